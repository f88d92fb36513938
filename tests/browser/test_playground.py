"""The playground in a real browser against the real server and the fake upstream, in English and Chinese.

The answer streams in (seen part-written before it is complete), the receipt shows the request ID and cost,
the balance drops by exactly that cost, and Usage lists the request under the Playground key.
"""
from __future__ import annotations

import re
import time

import pytest

from ethergate.billing.ledger import account_state
from ethergate.extensions import db
from tests.console.conftest import PASSWORD

pytestmark = pytest.mark.browser
SLOW = '[[fake:{"text": "one two three four five six seven eight", "chunks": 8, "gap_ms": 250}]]'


def balance(workspace_id: int) -> int:
    value = account_state(workspace_id)[0]
    db.session.remove()  # the live server writes next; hold no SQLite lock here
    return value


@pytest.mark.parametrize("locale, labels", [
    ("en-US", {"nav": "Playground", "user": "User message", "send": "Send", "lang": "en"}),
    ("zh-CN", {"nav": "试验场", "user": "用户消息", "send": "发送", "lang": "zh-CN"}),
])
def test_playground_streams_bills_and_labels(live_server, live_factories, chromium, screenshot, locale, labels):
    user = live_factories.user(password=PASSWORD)
    workspace = live_factories.workspace(owner=user, name="Playground Co", credits="5.00")
    slug, workspace_id = workspace.slug, workspace.id
    before = balance(workspace_id)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(live_server.url + "/login")
    page.locator('input[name="email"]').fill(user.email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form button[type="submit"]').last.click()
    page.wait_for_url(re.compile(r".*/console/.*"))
    assert page.locator("html").get_attribute("lang") == labels["lang"]  # the browser's language chose it

    page.goto(f"{live_server.url}/console/w/{slug}/")
    page.get_by_role("navigation").get_by_role("link", name=labels["nav"], exact=True).click()
    page.wait_for_url(f"**/console/w/{slug}/playground")
    page.get_by_label(labels["user"]).fill("Count to eight " + SLOW)
    page.get_by_label("Max tokens" if locale == "en-US" else "最大 token 数").fill("64")
    page.get_by_role("button", name=labels["send"], exact=True).click()

    answer = page.locator("#pg-answer")
    deadline = time.monotonic() + 10
    partial = ""
    while not partial and time.monotonic() < deadline:  # the page's CSP refuses wait_for_function's eval
        partial = answer.inner_text()
        time.sleep(0.05)
    assert partial and "eight" not in partial  # the first words are on screen before the last one is sent
    cost_cell = page.locator("#pg-cost")
    cost_cell.wait_for()
    assert answer.inner_text().strip().endswith("eight")
    assert not page.locator("#pg-stop").is_visible()  # Stop shows only while an answer streams
    request_id = page.locator("#pg-request-id").inner_text().strip()
    cost = int(cost_cell.get_attribute("data-cost-micro"))
    assert cost > 0 and balance(workspace_id) == before - cost
    assert int(page.locator("#pg-balance").get_attribute("data-balance-micro")) == before - cost
    screenshot(page, "playground")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name=request_id).click()
    page.wait_for_url(f"**/usage/requests/{request_id}*")
    assert "Playground" in page.locator("main").inner_text()
    page.goto(f"{live_server.url}/console/w/{slug}/usage/")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=request_id))
    assert "Playground" in row.inner_text()
    assert "sk-test" not in page.content()
    context.close()
