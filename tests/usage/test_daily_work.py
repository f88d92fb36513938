"""Usage for daily work, on both engines (hour bucketing is engine-specific SQL): hourly charts up to 48 h,
the status filter, sortable log columns, request-ID prefix search, and the model mix by spend."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, time, timedelta

from ethergate.billing import ledger
from ethergate.extensions import db
from ethergate.timeutil import utcnow
from ethergate.usage.reports import UsageFilter, hourly, model_mix
from tests.console.test_usage_pages import add_log, usage_url


def at(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute))


def seed(owner, factories):
    today = utcnow().date()
    yesterday = today - timedelta(days=1)
    key = factories.key(owner.workspace, name="ci").key
    add_log(owner.workspace, "req-cheap-1", key=key, when=at(today, 3, 10), cost_micro=100, latency_ms=900,
            prompt_tokens=10, completion_tokens=5)
    add_log(owner.workspace, "req-fail-1", key=key, when=at(today, 3, 50), status=502,
            error_code="provider_request_failed")
    add_log(owner.workspace, "req-dear-1", key=key, when=at(yesterday, 23, 30), cost_micro=5_000, latency_ms=200,
            model="qwen/qwen-plus", prompt_tokens=1_000, completion_tokens=500)
    add_log(owner.workspace, "req-old-1", key=key, when=at(today - timedelta(days=3), 3), cost_micro=1)
    ledger.post_entry(owner.workspace.id, -100, "usage", request_id="req-cheap-1",
                      model_id="deepseek/deepseek-v4-flash", api_key_id=key.id)
    ledger.post_entry(owner.workspace.id, -5_000, "usage", request_id="req-dear-1", model_id="qwen/qwen-plus",
                      api_key_id=key.id)
    return today, yesterday


def log_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-request-id="([^"]+)"', html)


def test_two_days_are_bucketed_per_hour_on_either_engine(owner, factories):
    today, yesterday = seed(owner, factories)
    hours = hourly(UsageFilter(owner.workspace.id, yesterday, today))
    assert len(hours) == 48 and hours[0].start == at(yesterday, 0) and hours[-1].start == at(today, 23)
    by_start = {h.start: h.totals for h in hours}
    assert (by_start[at(today, 3)].requests, by_start[at(today, 3)].errors) == (2, 1)
    assert by_start[at(yesterday, 23)].prompt_tokens == 1_000
    assert sum(h.totals.requests for h in hours) == 3  # three days ago is outside
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    assert by_start[now].spend_micro == 5_100  # the ledger's entries were posted this hour


def test_the_page_charts_up_to_48_hours_per_hour_with_hover_values(client, owner, factories):
    today, yesterday = seed(owner, factories)
    page = client.get(usage_url(owner, **{"from": yesterday.isoformat(), "to": today.isoformat()})).get_data(as_text=True)
    assert "Requests per hour" in page and "Spend per hour" in page and "charted per hour" in page
    point = f"{today.isoformat()}T03:00"
    assert re.search(rf'data-series="failed" data-point="{point}" data-value="1"><title>03:00 · Failed: 1</title>', page)
    week = client.get(usage_url(owner, **{"from": (today - timedelta(days=2)).isoformat(), "to": today.isoformat()}))
    assert "Requests per day" in week.get_data(as_text=True)
    assert "48 hours" in page


def test_status_filter_narrows_the_log_and_the_export(client, owner, factories):
    today, yesterday = seed(owner, factories)
    span = {"from": yesterday.isoformat(), "to": today.isoformat()}
    page = client.get(usage_url(owner, status="errors", **span)).get_data(as_text=True)
    assert log_ids(page) == ["req-fail-1"] and "The request log shows errors only." in page
    assert '<option value="errors" selected>' in page
    assert log_ids(client.get(usage_url(owner, status="ok", **span)).get_data(as_text=True)) == ["req-cheap-1", "req-dear-1"]
    exported = client.get(f"/console/w/{owner.slug}/usage/export.csv?status=errors&from={yesterday}&to={today}")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [row["request_id"] for row in rows] == ["req-fail-1"]
    junk = client.get(usage_url(owner, status="<script>", **span)).get_data(as_text=True)
    assert len(log_ids(junk)) == 3 and "<script>" not in junk


def test_log_columns_sort_both_ways_with_missing_values_last(client, owner, factories):
    today, yesterday = seed(owner, factories)
    span = {"from": yesterday.isoformat(), "to": today.isoformat()}
    assert log_ids(client.get(usage_url(owner, **span)).get_data(as_text=True)) == ["req-fail-1", "req-cheap-1", "req-dear-1"]
    assert log_ids(client.get(usage_url(owner, sort="-cost", **span)).get_data(as_text=True)) == \
        ["req-dear-1", "req-cheap-1", "req-fail-1"]
    assert log_ids(client.get(usage_url(owner, sort="cost", **span)).get_data(as_text=True)) == \
        ["req-fail-1", "req-cheap-1", "req-dear-1"]
    page = client.get(usage_url(owner, sort="latency", **span)).get_data(as_text=True)
    assert log_ids(page) == ["req-dear-1", "req-cheap-1", "req-fail-1"]  # no latency: last either way
    assert log_ids(client.get(usage_url(owner, sort="-latency", **span)).get_data(as_text=True)) == \
        ["req-cheap-1", "req-dear-1", "req-fail-1"]
    assert 'aria-sort="ascending"' in page and "sort=-latency" in page  # the header flips the order
    assert log_ids(client.get(usage_url(owner, sort="-tokens", **span)).get_data(as_text=True))[0] == "req-dear-1"
    assert len(log_ids(client.get(usage_url(owner, sort="password", **span)).get_data(as_text=True))) == 3
    fragment = client.htmx_get(usage_url(owner, sort="-cost", **span), target="request_log")
    assert fragment.get_data(as_text=True).lstrip().startswith('<section id="request_log"')


def test_prefix_search_with_a_status_and_sort(client, owner, factories):
    today, yesterday = seed(owner, factories)
    page = client.get(usage_url(owner, q="req-c", status="ok", sort="-cost", **{"from": yesterday.isoformat(),
                                                                                 "to": today.isoformat()}))
    html = page.get_data(as_text=True)
    assert log_ids(html) == ["req-cheap-1"]
    assert 'name="status" value="ok"' in html and 'name="sort" value="-cost"' in html  # the search keeps them
    assert log_ids(client.get(usage_url(owner, q="req-%")).get_data(as_text=True)) == []


def test_model_mix_is_by_spend(client, owner, factories):
    today, yesterday = seed(owner, factories)
    mix = model_mix(UsageFilter(owner.workspace.id, yesterday, today))
    assert [(row.model_id, row.spend_micro) for row in mix] == [("qwen/qwen-plus", 5_000),
                                                                 ("deepseek/deepseek-v4-flash", 100)]
    assert round(mix[0].share, 4) == round(5_000 / 5_100, 4)
    page = client.get(usage_url(owner, **{"from": yesterday.isoformat(), "to": today.isoformat()})).get_data(as_text=True)
    assert "Share of spend" in page
    db.session.rollback()
