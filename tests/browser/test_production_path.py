"""The docs' production path in a real browser against the real server, then once more in Chinese.

Sign up, create a workspace, redeem a code, create a key (read from the key widget), call the gateway
with the `openai` SDK, find the request in the Usage chart and table, open it, revoke the key, and
see the next call fail with 401. Selectors are roles, labels and text wherever the page offers them.
"""
from __future__ import annotations

import re

import openai
import pytest
from playwright.sync_api import expect

from ethergate.billing.codes import create_code
from ethergate.extensions import db
from ethergate.money import parse_amount
from ethergate.timeutil import utcnow
from tests.console.conftest import PASSWORD

pytestmark = pytest.mark.browser
MODEL = "deepseek/deepseek-v4-flash"


def sidebar(page, name: str):
    return page.get_by_role("navigation", name=re.compile("^(Workspace|工作区)$")).get_by_role("link", name=name,
                                                                                             exact=True)


def ask(api_key: str, base_url: str):
    client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=30)
    return client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "Write a launch checklist"}])


def test_production_path_in_the_browser(live_server, live_app, chromium, screenshot):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())   # hx-confirm on Revoke
    base = live_server.url

    # 1. Sign up and create the first workspace.
    page.goto(base + "/signup")
    page.get_by_label("Email").fill("founder@launch.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/console/workspaces/new")
    page.get_by_label("Workspace name").fill("Launch Co")
    page.get_by_role("button", name="Create workspace").click()
    page.wait_for_url(re.compile(r".*/console/w/[^/]+/$"))
    slug = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert page.get_by_role("heading", name="Launch Co").is_visible()
    screenshot(page, "01-dashboard")

    # 2. Redeem a code an operator made.
    _, code = create_code(parse_amount("20.00"), note="browser production path")
    db.session.remove()  # the live server writes next; hold no SQLite lock here
    sidebar(page, "Credits").click()
    page.get_by_role("heading", name="Credits", exact=True).wait_for()
    page.get_by_label("Redemption code").fill(code)
    page.get_by_role("button", name="Redeem").click()
    page.get_by_text("Code redeemed").wait_for()
    assert "¥20.00" in page.get_by_text("Code redeemed").inner_text()
    screenshot(page, "02-credits")

    # 3. Create a key and copy it from the widget that shows it once.
    sidebar(page, "Keys").click()
    page.get_by_role("heading", name="API keys", exact=True).wait_for()
    name = page.get_by_label("Name", exact=True)
    assert name.is_visible()  # a workspace without keys opens the create form
    name.fill("browser")
    page.get_by_role("button", name="Create key").click()
    widget = page.locator("#key_create")
    widget.get_by_role("heading", name=re.compile("copy it now")).wait_for()
    api_key = widget.get_by_text(re.compile(r"^cr_\S+$")).inner_text().strip()
    assert api_key.startswith("cr_") and len(api_key) > 20
    screenshot(page, "03-key-created")

    # 4. A real SDK call with that key.
    raw = ask(api_key, live_server.base_url)
    completion = raw.parse()
    request_id = raw.headers["x-request-id"]
    assert completion.choices[0].message.content and completion.usage.total_tokens > 0
    assert raw.headers["x-ethergate-provider"] == "deepseek"

    # 5. Usage: the request is in the chart's data and in the request log.
    sidebar(page, "Usage").click()
    page.wait_for_url(f"**/console/w/{slug}/usage/")
    today = utcnow().date().isoformat()
    chart = page.get_by_role("img", name=re.compile("Requests per day"))
    assert chart.locator(f'rect[data-series="succeeded"][data-point="{today}"]').get_attribute("data-value") == "1"
    numbers = page.locator("#chart_requests")
    numbers.get_by_text("Show the numbers").click()
    assert numbers.locator(f'tr[data-point="{today}"]').get_by_role("cell").first.inner_text() == "1"
    assert page.locator("#total-requests").inner_text() == "1"
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=request_id))
    assert MODEL in row.inner_text() and "200" in row.inner_text() and "browser" in row.inner_text()
    screenshot(page, "04-usage")

    # 6. The request's own page.
    page.get_by_role("link", name=request_id).click()
    page.wait_for_url(f"**/usage/requests/{request_id}*")
    detail = page.locator("main").inner_text()
    tokens = completion.usage
    for expected in (request_id, MODEL, "deepseek", "deepseek-flash", "Routes tried", "Ledger entries", "usage",
                     f"{tokens.prompt_tokens:,}", f"{tokens.completion_tokens:,}", "metered"):
        assert expected in detail, expected
    assert page.locator("li.attempt").count() == 1
    screenshot(page, "05-request")

    # 7. Revoke the key; the next call is refused.
    sidebar(page, "Keys").click()
    page.get_by_role("button", name="Revoke").click()
    page.get_by_role("listitem").filter(has_text="browser").get_by_text("Revoked").first.wait_for()
    screenshot(page, "06-key-revoked")
    with pytest.raises(openai.AuthenticationError) as refused:
        ask(api_key, live_server.base_url)
    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"

    # 8. The same console in Chinese.
    page.get_by_role("button", name="简体中文").click()
    page.wait_for_selector('html[lang="zh-CN"]')
    sidebar(page, "概览").click()
    page.wait_for_url(re.compile(r".*/console/w/[^/]+/$"))
    assert "本月花费" in page.locator("main").inner_text() and "余额" in page.locator("main").inner_text()
    screenshot(page, "07-dashboard-zh")
    sidebar(page, "用量").click()
    page.wait_for_url(f"**/console/w/{slug}/usage/")
    text = page.locator("main").inner_text()
    for expected in ("用量", "每日请求数", "模型分布", "请求日志", request_id):
        assert expected in text, expected
    assert page.get_by_role("img", name=re.compile("每日请求数")).is_visible()
    screenshot(page, "08-usage-zh")

    # 9. A phone-sized screen: the Usage page fits its width (wide tables scroll inside their cards).
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(f"{base}/console/w/{slug}/usage/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391
    screenshot(phone, "09-usage-phone")
    context.close()


def test_public_pages_in_the_browser(live_server, chromium, screenshot):
    page = chromium.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
    base = live_server.url
    page.goto(base + "/models")
    page.get_by_label("Search").fill("qwen")
    expect(page.locator("#model_list tbody tr")).to_have_count(5)   # swapped in by htmx as you type
    assert "q=qwen" in page.url                              # htmx pushed the filter into the address
    assert all(model.startswith("qwen/") for model in
               page.locator("#model_list tbody tr").evaluate_all("rows => rows.map(r => r.dataset.modelId)"))
    screenshot(page, "01-models")
    page.get_by_role("link", name="Qwen Plus").click()
    page.wait_for_url("**/models/qwen/qwen-plus")
    assert page.get_by_role("heading", name="Benchmarks from routed traffic").is_visible()
    screenshot(page, "02-model")
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Docs").click()
    page.wait_for_url("**/docs")
    assert live_server.base_url in page.locator("#docs-base-url").inner_text() or page.get_by_text(
        "http://127.0.0.1:8000/v1").first.is_visible()
    page.get_by_role("navigation", name="Docs", exact=True).get_by_role("link", name="Errors").click()
    page.get_by_role("heading", name="Example bodies").wait_for()
    screenshot(page, "03-docs-errors")
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Status").click()
    page.wait_for_url("**/status/page")
    assert "All systems operational" in page.locator("#overall").inner_text()
    screenshot(page, "04-status")
    page.close()
