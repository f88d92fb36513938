"""Alerts in a real browser against the real server: its background sweep emails the owner once when the
balance falls below the threshold and posts the signed webhook the owner set up on the settings page."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from ethergate.alerts.signing import verify
from ethergate.billing import ledger
from ethergate.money import MICRO
from tests.alerts.conftest import WebhookReceiver
from tests.browser.test_layout import sign_in
from tests.mail.conftest import smtp_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def site(live_server_factory, smtp_server):  # noqa: F811
    return live_server_factory({**smtp_server.env, "ETHERGATE_WEBHOOK_ALLOW_PRIVATE": "true",
                                "ETHERGATE_SWEEP_INTERVAL_SECONDS": "0.5"})


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def wait_for(predicate, page, timeout_ms: int = 15_000):
    for _ in range(timeout_ms // 250):
        if predicate():
            return
        page.wait_for_timeout(250)
    raise AssertionError("timed out")


@pytest.mark.parametrize("locale, texts", [
    ("en-US", {"heading": "Alert webhook", "save": "Save webhook", "test": "Send a test event", "refresh": "Refresh",
               "delivered": "Delivered"}),
    ("zh-CN", {"heading": "提醒 Webhook", "save": "保存 Webhook", "test": "发送测试事件", "refresh": "刷新",
               "delivered": "已送达"}),
])
def test_owner_sets_a_webhook_and_gets_one_email_and_signed_events(site, live_factories, chromium, screenshot,
                                                                    smtp_server, receiver, locale, texts):
    owner = live_factories.user("alerts@example.com")
    workspace = live_factories.workspace(owner=owner, name="Acme", credits="5.00")
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, site.url, owner.email)
    page.goto(f"{site.url}/console/w/{workspace.slug}/settings")
    expect(page.get_by_role("heading", name=texts["heading"])).to_be_visible()
    page.fill("#alert-webhook input[name=url]", receiver.url)
    page.get_by_role("button", name=texts["save"]).click()
    expect(page.locator("#webhook-secret")).to_contain_text("whsec_")
    secret = page.locator("#webhook-secret").inner_text().strip()
    page.get_by_role("button", name=texts["test"]).click()
    expect(page.locator("#webhook-deliveries")).to_contain_text("alert.test")
    wait_for(lambda: len(receiver.received) == 1, page)  # delivered by the server's sweep, not by the click
    page.get_by_role("link", name=texts["refresh"]).click()
    expect(page.locator("#webhook-deliveries")).to_contain_text(texts["delivered"])
    screenshot(page, "settings-webhook")
    assert receiver.received[0]["event"] == "alert.test"
    assert verify(secret, receiver.received[0]["body"], receiver.received[0]["headers"]["EtherGate-Signature"])

    ledger.post_entry(workspace.id, -int(4.5 * MICRO), "adjustment", note="spend", actor_label="test")
    message = smtp_server.wait_for(owner.email)
    assert "Acme" in message.subject and "/credits/" in message.body
    wait_for(lambda: len(receiver.received) == 2, page)
    low = receiver.received[1]
    assert low["event"] == "balance.low" and verify(secret, low["body"], low["headers"]["EtherGate-Signature"])
    assert json.loads(low["body"])["data"]["available_micro"] == MICRO // 2
    page.wait_for_timeout(2_000)  # four more sweeps while the balance stays low
    assert len([m for m in smtp_server.messages if owner.email in m.recipients]) == 1 and len(receiver.received) == 2
    context.close()
