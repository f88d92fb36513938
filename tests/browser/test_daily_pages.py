"""The status page and the dashboard after onboarding, in a real browser against the real server, en and zh."""
from __future__ import annotations

import re

import openai
import pytest

from ethergate.extensions import db
from tests.console.conftest import PASSWORD
from tests.console.test_status_page import log_requests

pytestmark = pytest.mark.browser
MODEL = "deepseek/deepseek-v4-flash"


@pytest.mark.parametrize("locale, degraded, operational", [("en-US", "Degraded performance", "Operational"),
                                                           ("zh-CN", "性能下降", "运行正常")])
def test_status_page_says_degraded_from_our_traffic(live_server, live_app, chromium, screenshot, locale, degraded,
                                                    operational):
    log_requests("qwen", "qwen/qwen-plus", ok=20, failed=10)
    db.session.remove()
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = context.new_page()
    page.goto(live_server.url + "/status/page")
    banner = page.locator("#overall")
    assert degraded in banner.inner_text() and banner.get_attribute("data-status") == "degraded"
    qwen = page.locator('li[data-provider="qwen"]')
    assert qwen.get_attribute("data-state") == "degraded" and "66.7%" in qwen.inner_text()
    assert operational in page.locator('li[data-provider="deepseek"]').inner_text()
    assert page.locator('li[data-provider="qwen"] .uptime-bars li').count() == 24
    body = page.locator("body").inner_text()
    assert "sqlite" not in body and "postgresql" not in body and "ConnectTimeout" not in body
    screenshot(page, "status")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 391  # bars and tables fit a phone
    screenshot(page, "status-phone")
    context.close()


@pytest.mark.parametrize("locale, labels", [
    ("en-US", ("Spend today", "Requests this month", "Runway", "Recent requests", "Recent errors")),
    ("zh-CN", ("今日花费", "本月请求数", "可用天数", "最近的请求", "最近的错误")),
])
def test_dashboard_leads_with_activity_after_traffic(live_server, live_factories, chromium, screenshot, locale,
                                                     labels):
    user = live_factories.user(password=PASSWORD)
    workspace = live_factories.workspace(owner=user, name="Busy Co", credits="5.00")
    issued = live_factories.key(workspace)
    slug, plaintext = workspace.slug, issued.plaintext
    db.session.remove()
    client = openai.OpenAI(api_key=plaintext, base_url=live_server.base_url, max_retries=0, timeout=30)
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    request_id = raw.headers["x-request-id"]

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(live_server.url + "/login")
    page.locator('input[name="email"]').fill(user.email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form button[type="submit"]').last.click()
    page.wait_for_url(re.compile(r".*/console/.*"))
    page.goto(f"{live_server.url}/console/w/{slug}/")
    main = page.locator("main").inner_text()
    for label in labels:
        assert label in main, label
    assert page.locator("#requests-month").inner_text().strip() == "1"
    assert page.locator('#chart_activity rect[data-series="succeeded"]').count() == 1
    assert not page.locator("#onboarding").evaluate("element => element.open")
    screenshot(page, "dashboard")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("#recent-requests").get_by_role("link", name=request_id).click()
    page.wait_for_url(f"**/usage/requests/{request_id}*")
    context.close()
