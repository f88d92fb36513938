"""The request trace in a real browser: the live server, a real failed-over request, headless Chromium."""
from __future__ import annotations

import os
import shutil

import pytest
import requests

from ethergate.extensions import db
from tests.console.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_staff_reads_a_failed_over_request_in_the_browser(live_server, live_factories, fake_upstream, chromium,
                                                        tmp_path):
    fake_upstream.clear()
    staff = live_factories.user("support@ethergate.example", staff=True)
    tenant = live_factories.tenant(credits="20.00", name="production")
    db.session.rollback()  # the live server writes next; hold no SQLite lock here
    fake_upstream.add_behavior("qwen", {"status": 503, "error_message": "upstream overloaded"},
                               model="qwen-plus", times=1)
    answer = requests.post(live_server.base_url + "/chat/completions", timeout=30,
                           headers={"Authorization": f"Bearer {tenant.plaintext}", "X-Request-Id": "cust-report-7",
                                    "User-Agent": "OpenAI/Python 1.99.0"},
                           json={"model": "qwen/qwen-plus", "messages": [{"role": "user", "content": "hello"}]})
    assert answer.status_code == 200, answer.text
    fake_upstream.clear()

    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + "/login")
    page.fill("input[name=email]", staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/support/")  # staff without a workspace land on the support console
    page.fill("#support-q", "cust-report-7")
    page.press("#support-q", "Enter")
    page.wait_for_url("**/support/requests/cust-report-7")
    page.wait_for_load_state("networkidle")

    text = page.inner_text("main")
    for expected in ("Request cust-report-7", tenant.workspace.name, tenant.key.prefix, "production",
                     "qwen/qwen-plus", "qwen-plus-latest", "503", "upstream overloaded", "captured",
                     "OpenAI/Python 1.99.0", "Routes tried", "Credit hold", "Ledger entries"):
        assert expected in text, expected
    assert page.locator("li.attempt").count() == 2
    shot = tmp_path / "support-trace.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    keep(shot)

    # From the trace to the workspace; the htmx forms swap their own regions in place.
    page.click(f"main a[href='/support/workspaces/{tenant.workspace.slug}']")
    page.wait_for_url(f"**/support/workspaces/{tenant.workspace.slug}")
    page.fill("#amount", "-2.50")
    page.fill("#note", "double charge on invoice 1187")
    page.click("#credit form button[type=submit]")
    page.wait_for_selector("#flash .flash-success")
    assert "New balance" in page.inner_text("#flash")
    assert "double charge on invoice 1187" in page.inner_text("#ledger")
    page.fill("#redemption-code input[name=amount]", "30")
    page.fill("#redemption-code input[name=note]", "webinar attendee")
    page.click("#redemption-code button[type=submit]")
    page.wait_for_selector("#new-code")
    assert page.inner_text("#new-code").startswith("EG-")
    shot = tmp_path / "support-workspace.png"
    page.screenshot(path=str(shot), full_page=True)
    keep(shot)

    # The customer's owner sees the staff adjustment in their own audit log.
    owner = chromium.new_page(viewport={"width": 1280, "height": 900})
    owner.goto(live_server.url + "/login")
    owner.fill("input[name=email]", tenant.user.email)
    owner.fill("input[name=password]", PASSWORD)
    owner.click("main form button[type=submit]")
    owner.wait_for_url("**/console/w/**")
    owner.click("nav.sidenav >> text=Audit log")
    owner.wait_for_url("**/audit")
    owner.select_option("#audit-action", "credits.adjustment")
    owner.click("#events button[type=submit]")
    owner.wait_for_url("**/audit?action=credits.adjustment")
    text = owner.inner_text("#events")
    assert "Balance adjusted by staff" in text and "double charge on invoice 1187" in text and staff.email in text
    assert owner.locator("#events li.audit-event").count() == 1
    owner.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    shot = tmp_path / "owner-audit.png"
    owner.screenshot(path=str(shot), full_page=True)
    keep(shot)


def keep(shot) -> None:
    """Copy a screenshot to ETHERGATE_SCREENSHOT_DIR, for a person to look at."""
    if os.environ.get("ETHERGATE_SCREENSHOT_DIR"):
        shutil.copy(shot, os.environ["ETHERGATE_SCREENSHOT_DIR"])
