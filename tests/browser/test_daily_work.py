"""Usage and the model list for daily work, in a real browser (en and zh): hourly charts with hover values,
the errors-only filter, sortable columns, request-ID prefix search, model mix by spend, catalog sorting."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ethergate.extensions import db
from tests.browser.test_layout import seed_traffic, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.shared_live_server]

TEXTS = {
    "en-US": {"preset": "48 hours", "per_hour": "Requests per hour", "status": "Errors only", "cost": "Cost",
              "search": "Search by request ID", "mix": "Share of spend", "context": "Context", "latency": "Latency"},
    "zh-CN": {"preset": "48 小时", "per_hour": "每小时请求数", "status": "仅错误", "cost": "费用",
              "search": "按请求 ID 搜索", "mix": "花费占比", "context": "上下文", "latency": "延迟"},
}


@pytest.fixture(params=list(TEXTS))
def page_in(request, chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale=request.param)
    context.set_default_timeout(15_000)
    yield context.new_page(), TEXTS[request.param]
    context.close()


def test_usage_for_daily_work(live_server, live_factories, fake_upstream, page_in, screenshot):
    page, texts = page_in
    fake_upstream.clear()
    tenant = live_factories.tenant(credits="100.00", name="daily")
    slug, email = tenant.workspace.slug, tenant.user.email
    db.session.rollback()
    seed_traffic(live_server, tenant.plaintext)
    sign_in(page, live_server.url, email)
    page.goto(f"{live_server.url}/console/w/{slug}/usage/")
    page.get_by_role("link", name=texts["preset"], exact=True).click()
    expect(page.locator(".chart-title", has_text=texts["per_hour"])).to_be_visible()
    expect(page.locator("#usage_filters")).to_have_count(1)  # the page, not a page inside the results
    assert page.locator("#usage-from").input_value() != page.locator("#usage-to").input_value()
    hover = page.locator("#chart_requests rect[data-series='succeeded'] title").first
    assert ":00 · " in hover.text_content()  # the hour and its value, shown on hover
    expect(page.locator("#model-mix")).to_contain_text(texts["mix"])

    page.select_option("#usage-status", "errors")
    expect(page.locator("#request-table tbody tr")).to_have_count(2)
    statuses = page.locator("#request-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.requestId)")
    assert sorted(statuses) == ["layout-request-0003", "layout-request-0004"]
    assert "status=errors" in page.url
    expect(page.locator(".chart-title", has_text=texts["per_hour"])).to_be_visible()  # the range is kept

    page.select_option("#usage-status", "")
    expect(page.locator("#request-table tbody tr")).to_have_count(4)
    page.locator("#request-table th a[data-sort='cost']").click()
    expect(page.locator("#request-table th[aria-sort='descending']")).to_contain_text(texts["cost"])
    first = page.locator("#request-table tbody tr").first.get_attribute("data-request-id")
    assert first in ("layout-request-0001-with-a-long-client-id", "layout-request-0002")  # the priced ones first

    page.fill("#log-search", "layout-request-000")
    page.locator("#log-search").press("Enter")
    page.wait_for_url("**q=layout-request-000")
    expect(page.locator("#request-table tbody tr")).to_have_count(4)
    page.fill("#log-search", "layout-request-0002")
    page.locator("#log-search").press("Enter")
    expect(page.locator("#request-table tbody tr")).to_have_count(1)
    expect(page.locator("#log-search")).to_have_attribute("placeholder", texts["search"])
    screenshot(page, "usage")


def test_catalog_sorts_by_context_and_latency(live_server, page_in, screenshot):
    page, texts = page_in
    page.goto(f"{live_server.url}/models")
    header = page.locator("#model_list th a[data-sort='context']")
    expect(header).to_contain_text(texts["context"])
    header.click()
    expect(page.locator("#model_list th[aria-sort='descending']")).to_contain_text(texts["context"])
    assert "sort=-context" in page.url
    contexts = page.locator("#model_list tbody td[data-label]").evaluate_all(
        "cells => cells.filter(c => c.cellIndex === 2).map(c => Number(c.title.replace(/[^0-9]/g, '')))")
    assert contexts == sorted(contexts, reverse=True) and len(contexts) > 3
    page.locator("#model_list th a[data-sort='context']").click()
    expect(page.locator("#model_list th[aria-sort='ascending']")).to_contain_text(texts["context"])
    page.locator("#model_list th a[data-sort='latency']").click()
    expect(page.locator("#model_list th[aria-sort='ascending']")).to_contain_text(texts["latency"])
    page.locator("#model_list th a[data-sort='price']").click()
    expect(page.locator("#model_list th[aria-sort='ascending']")).to_be_visible()
    screenshot(page, "catalog")
