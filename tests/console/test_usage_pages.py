"""Usage: totals, SVG charts, model mix, errors, the request log, one request, CSV; all scoped to the workspace."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from html import unescape

import pytest

from ethergate.billing import ledger
from ethergate.extensions import db
from ethergate.timeutil import utcnow
from ethergate.console import charts
from ethergate.usage.models import RequestLog
from ethergate.usage.reports import UsageFilter, daily
from ethergate.console.usage import parse_filters


def add_log(workspace, request_id: str = "req_one", *, key=None, when: datetime | None = None, status: int = 200,
            model: str = "deepseek/deepseek-v4-flash", **fields) -> RequestLog:
    row = RequestLog(request_id=request_id, workspace_id=workspace.id, api_key_id=key.id if key else None,
                     method="POST", path="/v1/chat/completions", model_id=model, status_code=status,
                     created_at=when or utcnow(), **fields)
    db.session.add(row)
    db.session.commit()
    return row


def usage_url(owner, **query) -> str:
    from urllib.parse import urlencode
    return f"/console/w/{owner.slug}/usage/" + (f"?{urlencode(query)}" if query else "")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def traffic(owner, factories):
    """Two keys, two models, a failure, yesterday's request, and another workspace's request."""
    ci = factories.key(owner.workspace, name="ci").key
    web = factories.key(owner.workspace, name="web").key
    now = utcnow()
    add_log(owner.workspace, "req_a1", key=ci, prompt_tokens=100, completion_tokens=40, cost_micro=1200,
            provider="deepseek", upstream_model="deepseek-flash", latency_ms=820)
    add_log(owner.workspace, "req_a2", key=web, model="qwen/qwen-plus", prompt_tokens=300, completion_tokens=60,
            cached_tokens=50, cost_micro=900, provider="qwen", upstream_model="qwen-plus-latest", latency_ms=400)
    add_log(owner.workspace, "req_fail", key=web, status=502, error_code="provider_request_failed",
            error_message="The upstream provider failed", provider="deepseek")
    add_log(owner.workspace, "req_old", key=ci, when=now - timedelta(days=1), prompt_tokens=10, completion_tokens=5)
    other = factories.workspace(name="Other")
    add_log(other, "req_theirs", prompt_tokens=999_999, completion_tokens=1)
    ledger.post_entry(owner.workspace.id, -1_200, "usage", request_id="req_a1", model_id="deepseek/deepseek-v4-flash",
                      api_key_id=ci.id)
    ledger.post_entry(owner.workspace.id, -900, "usage", request_id="req_a2", model_id="qwen/qwen-plus",
                      api_key_id=web.id)
    return {"ci": ci, "web": web, "other": other, "today": now.date()}


def test_usage_page_shows_totals_charts_mix_errors_and_the_log(client, owner, traffic):
    page = client.get(usage_url(owner)).get_data(as_text=True)
    assert '<span class="stat-value" id="total-requests">4</span>' in page
    assert '<span class="stat-value" id="total-errors">1</span>' in page
    assert '<span class="stat-value" id="total-tokens">515</span>' in page
    assert '<span class="stat-value" id="total-spend">¥0.0021</span>' in page
    assert 'hx-trigger="every 10s"' in page
    today = traffic["today"].isoformat()
    # Real SVG charts: accessible title and description, axis labels, bars carrying their data.
    assert page.count('role="img" aria-labelledby="chart_') == 3
    assert '<title id="chart_requests-title">Requests per day</title>' in page
    assert f'data-series="succeeded" data-point="{today}" data-value="2"' in page
    assert f'data-series="failed" data-point="{today}" data-value="1"' in page
    assert f'<polyline points=' in page and f'data-series="prompt" data-point="{today}" data-value="400"' in page
    assert f'<tr data-point="{today}"><th scope="row">' in page
    text = text_of(page)
    assert "deepseek/deepseek-v4-flash" in text and "qwen/qwen-plus" in text
    assert "502 · provider_request_failed" in text
    for request_id in ("req_a1", "req_a2", "req_fail", "req_old"):
        assert f'data-request-id="{request_id}"' in page
    assert "req_theirs" not in page and "999,999" not in text


def test_filters_live_in_the_query_string_and_htmx_swaps_only_the_results(client, owner, traffic):
    url = usage_url(owner, key=traffic["web"].id, model="qwen/qwen-plus")
    full = client.get(url).get_data(as_text=True)
    assert full.startswith("<!doctype html>")
    assert f'<option value="{traffic["web"].id}" selected>' in full
    assert '<option value="qwen/qwen-plus" selected>' in full
    response = client.htmx_get(url, target="usage_results")
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert fragment.lstrip().startswith('<div id="usage_results"') and "<html" not in fragment
    assert 'id="total-requests">1</span>' in fragment
    assert 'data-request-id="req_a2"' in fragment and 'data-request-id="req_a1"' not in fragment
    export = re.search(r'href="([^"]*export\.csv[^"]*)"', fragment).group(1)
    assert f"key={traffic['web'].id}" in unescape(export) and "model=qwen/qwen-plus" in unescape(export)

    yesterday = (traffic["today"] - timedelta(days=1)).isoformat()
    only_yesterday = client.get(usage_url(owner, **{"from": yesterday, "to": yesterday})).get_data(as_text=True)
    assert 'id="total-requests">1</span>' in only_yesterday and 'data-request-id="req_old"' in only_yesterday
    assert 'hx-trigger="every 10s"' not in only_yesterday        # a past range cannot change: no polling


def test_the_totals_poll_renders_only_the_totals(client, owner, traffic):
    response = client.htmx_get(usage_url(owner), target="usage_totals")
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="usage_totals"') and 'hx-trigger="every 10s"' in body
    assert "chart_requests" not in body and "request_log" not in body
    assert 'id="total-requests">4</span>' in body
    add_log(owner.workspace, "req_new")
    assert 'id="total-requests">5</span>' in client.htmx_get(usage_url(owner), target="usage_totals").get_data(
        as_text=True)


def test_request_log_pages_and_searches_by_request_id(client, owner):
    start = utcnow() - timedelta(minutes=70)
    for n in range(60):
        add_log(owner.workspace, f"batch-{n:03d}", when=start + timedelta(minutes=n))
    first = client.get(usage_url(owner)).get_data(as_text=True)
    assert first.count('data-request-id="batch-') == 50 and 'data-request-id="batch-059"' in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = client.htmx_get(usage_url(owner, page=2), target="request_log").get_data(as_text=True)
    assert second.lstrip().startswith('<section id="request_log"')
    assert second.count('data-request-id="batch-') == 10 and 'data-request-id="batch-000"' in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    found = client.get(usage_url(owner, q="batch-01")).get_data(as_text=True)
    assert found.count('data-request-id="batch-') == 10
    assert "No request ID in this range starts with" in client.get(usage_url(owner, q="nope_")).get_data(as_text=True)
    # LIKE wildcards in the search are literal.
    assert found.count("data-request-id") == 10
    assert client.get(usage_url(owner, q="batch_%")).get_data(as_text=True).count('data-request-id="batch-') == 0


def test_request_detail_shows_routing_tokens_cost_timings_and_ledger(client, owner, factories):
    key = factories.key(owner.workspace, name="prod").key
    attempts = [{"provider": "qwen", "upstream_model": "qwen-plus-latest", "status": 503, "latency_ms": 120,
                 "error": "upstream overloaded", "kind": "server"},
                {"provider": "qwen", "upstream_model": "qwen-plus", "status": 200, "latency_ms": 900,
                 "upstream_request_id": "chatcmpl-up-1"}]
    posted = ledger.post_entry(owner.workspace.id, -3_456, "usage", request_id="cust-7", model_id="qwen/qwen-plus",
                               provider="qwen", api_key_id=key.id, estimated=True,
                               pricing={"input_micro": 800_000, "cached_input_micro": 160_000,
                                        "output_micro": 2_000_000, "source": "tier<=128000"})
    add_log(owner.workspace, "cust-7", key=key, model="qwen/qwen-plus", provider="qwen", upstream_model="qwen-plus",
            upstream_request_id="chatcmpl-up-1", stream=True, prompt_tokens=1200, cached_tokens=200,
            completion_tokens=300, reasoning_tokens=120, cost_micro=3_456, estimated=True, latency_ms=2500,
            ttft_ms=640, attempts=attempts, user_agent="OpenAI/Python 1.99.0")
    page = client.get(f"/console/w/{owner.slug}/usage/requests/cust-7").get_data(as_text=True)
    text = text_of(page)
    for expected in ("qwen/qwen-plus", "qwen-plus-latest", "chatcmpl-up-1", "upstream overloaded", "prod",
                     "1,200", "300", "120", "¥0.003456", "estimated", "2,500 ms", "640 ms",
                     "OpenAI/Python 1.99.0", f"#{posted.id}", "tier<=128000", "¥0.80"):
        assert expected in text, expected
    assert page.count('<li class="attempt">') == 2
    assert 'href="/models/qwen/qwen-plus"' in page


def test_a_failed_request_shows_its_error_and_provider(client, owner):
    add_log(owner.workspace, "req_bad", status=502, provider="deepseek", error_code="provider_request_failed",
            error_message="The upstream provider failed for deepseek/deepseek-v4-flash (deepseek: HTTP 500).",
            attempts=[{"provider": "deepseek", "upstream_model": "deepseek-flash", "status": 500, "latency_ms": 30}])
    page = client.get(f"/console/w/{owner.slug}/usage/requests/req_bad").get_data(as_text=True)
    assert 'id="error-code">provider_request_failed</code>' in page
    assert "deepseek: HTTP 500" in page and "No ledger entry" in page


def test_a_reused_request_id_lists_every_request_with_it(client, owner):
    first = add_log(owner.workspace, "demo-001", when=utcnow() - timedelta(minutes=5), status=429,
                    error_code="rate_limit_exceeded")
    add_log(owner.workspace, "demo-001")
    page = client.get(f"/console/w/{owner.slug}/usage/requests/demo-001").get_data(as_text=True)
    assert "This request ID was sent 1 more time" in page and "rate_limit_exceeded" not in page.split("detail-grid")[1]
    older = client.get(f"/console/w/{owner.slug}/usage/requests/demo-001?row={first.id}").get_data(as_text=True)
    assert 'id="error-code">rate_limit_exceeded</code>' in older


def test_another_workspaces_request_is_404(client, owner, factories):
    other = factories.workspace(name="Other")
    add_log(other, "req_theirs")
    assert client.get(f"/console/w/{owner.slug}/usage/requests/req_theirs").status_code == 404
    assert client.get(f"/console/w/{owner.slug}/usage/requests/never-sent").status_code == 404
    mine = add_log(owner.workspace, "req_mine")
    theirs = add_log(other, "req_mine")
    page = client.get(f"/console/w/{owner.slug}/usage/requests/req_mine?row={theirs.id}").get_data(as_text=True)
    assert "This request ID was sent" not in page and f'row={mine.id}' not in page.split('id="main"')[1]


def test_members_see_usage(client, auth, owner, join):
    member = join(owner.workspace, "member")
    add_log(owner.workspace, "req_seen")
    auth.logout()
    auth.login(member.email)
    assert 'data-request-id="req_seen"' in client.get(usage_url(owner)).get_data(as_text=True)
    assert client.get(f"/console/w/{owner.slug}/usage/requests/req_seen").status_code == 200
    assert client.get(f"/console/w/{owner.slug}/usage/export.csv").status_code == 200


def test_csv_export_follows_the_filters_and_defuses_formulas(client, owner, traffic):
    add_log(owner.workspace, "-1+2", key=traffic["ci"], status=400, error_code="invalid_request_error",
            error_message="=HYPERLINK(\"http://evil\")")
    response = client.get(f"/console/w/{owner.slug}/usage/export.csv?key={traffic['ci'].id}")
    assert response.mimetype == "text/csv"
    assert f'attachment; filename="ethergate-usage-{owner.slug}-' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["request_id"] for row in rows] == ["'-1+2", "req_a1", "req_old"]
    assert rows[0]["error_message"].startswith("'=HYPERLINK")
    assert rows[1]["key_name"] == "ci" and rows[1]["cost"] == "0.0012" and rows[1]["currency"] == "CNY"
    assert rows[1]["prompt_tokens"] == "100" and rows[1]["stream"] == "false"
    searched = client.get(f"/console/w/{owner.slug}/usage/export.csv?q=req_a").get_data(as_text=True)
    assert "req_a1" in searched and "req_a2" in searched and "req_old" not in searched


def test_export_reads_in_batches(app, owner):
    from ethergate.usage.reports import export_rows
    start = utcnow() - timedelta(minutes=30)
    for n in range(7):
        add_log(owner.workspace, f"r{n}", when=start)  # same timestamp: the id breaks the tie
    usage = UsageFilter(owner.workspace.id, start.date(), utcnow().date())
    assert [row.log.request_id for row in export_rows(usage, batch=3)] == [f"r{n}" for n in range(6, -1, -1)]


def test_usage_in_chinese(client, owner, traffic):
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    page = client.get(usage_url(owner)).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    for expected in ("用量", "每日请求数", "模型分布", "请求日志", "导出 CSV"):
        assert expected in page, expected
    assert "¥0.0021" in page
    detail = client.get(f"/console/w/{owner.slug}/usage/requests/req_a1").get_data(as_text=True)
    assert "账本记录" in detail


def test_filter_parsing():
    from werkzeug.datastructures import MultiDict
    today = date(2026, 11, 24)
    default = parse_filters(MultiDict(), 1, today)
    assert (default.usage.first_day, default.usage.last_day) == (date(2026, 11, 11), today) and not default.notes
    swapped = parse_filters(MultiDict({"from": "2026-11-20", "to": "2026-11-01"}), 1, today)
    assert (swapped.usage.first_day, swapped.usage.last_day) == (date(2026, 11, 1), date(2026, 11, 20))
    broken = parse_filters(MultiDict({"from": "yesterday", "key": "abc", "page": "-3"}), 1, today)
    assert broken.notes and broken.usage.api_key_id is None and broken.page == 1
    huge = parse_filters(MultiDict({"from": "2020-01-01", "to": "2026-11-24"}), 1, today)
    assert (huge.usage.last_day - huge.usage.first_day).days == 365 and huge.notes
    assert huge.args(page=2)["page"] == 2 and "key" not in huge.args()


def test_daily_series_has_every_day_of_the_range(app, owner):
    today = utcnow().date()
    add_log(owner.workspace, "x", when=utcnow() - timedelta(days=2), prompt_tokens=7)
    days = daily(UsageFilter(owner.workspace.id, today - timedelta(days=4), today))
    assert [d.day for d in days] == [today - timedelta(days=n) for n in range(4, -1, -1)]
    assert [d.totals.prompt_tokens for d in days] == [0, 0, 7, 0, 0]


def test_chart_geometry():
    assert charts.nice_scale(0) == (4, 1)
    assert charts.nice_scale(7) == (8, 2)
    assert charts.nice_scale(1234) == (1500, 500)
    assert charts.nice_scale(0.3, integer=False)[0] >= 0.3
    labels = [f"d{n}" for n in range(30)]
    chart = charts.bar_chart("c", "t", "s", labels, labels, [charts.Series("a", "A", list(range(30)))], str)
    assert len(chart.x_ticks) <= charts.MAX_X_LABELS
    assert all(chart.top <= bar.y and bar.y + bar.height <= chart.bottom + 0.01 for bar in chart.bars)
    assert all(chart.left <= bar.x and bar.x + bar.width <= chart.right + 0.01 for bar in chart.bars)
    assert len(chart.bars) == 29 and not chart.empty  # a zero bar is not drawn
    line = charts.line_chart("l", "t", "s", labels[:3], labels[:3], [charts.Series("a", "A", [0, 0, 0])], str)
    assert line.empty and len(line.lines[0].markers) == 3


def test_requests_refused_before_routing_keep_the_model_they_named(client, owner, factories):
    issued = factories.key(owner.workspace, name="sdk")
    auth = {"Authorization": f"Bearer {issued.plaintext}", "X-Request-Id": "req_bad_temp"}
    refused = client.post("/v1/chat/completions", headers=auth, json={
        "model": "qwen/qwen-plus", "temperature": 7, "messages": [{"role": "user", "content": "hi"}]})
    assert refused.status_code == 400
    assert client.get("/v1/models", headers={**auth, "X-Request-Id": "req_list"}).status_code == 200
    limited = factories.key(owner.workspace, name="limited", rpm_limit=1)
    limited_auth = {"Authorization": f"Bearer {limited.plaintext}"}
    body = {"model": "qwen/qwen-plus", "messages": [{"role": "user", "content": "hi"}], "temperature": 7}
    assert client.post("/v1/chat/completions", headers={**limited_auth, "X-Request-Id": "req_first"},
                       json=body).status_code == 400
    over = client.post("/v1/chat/completions", headers={**limited_auth, "X-Request-Id": "req_over_rpm"}, json=body)
    assert over.status_code == 429 and over.get_json()["error"]["code"] == "rate_limit_exceeded"
    logged = {row.request_id: row for row in db.session.scalars(db.select(RequestLog))}
    assert logged["req_bad_temp"].model_id == "qwen/qwen-plus"
    assert logged["req_over_rpm"].model_id == "qwen/qwen-plus"  # refused before its body was parsed
    page = text_of(client.get(usage_url(owner, model="qwen/qwen-plus")).get_data(as_text=True))
    assert "req_bad_temp" in page and "req_list" not in page
    mix = client.get(usage_url(owner)).get_data(as_text=True).split('id="model-mix"')[1].split("</table>")[0]
    assert "qwen/qwen-plus" in mix
    # A model list call is an API request (it counts against the key's rate limit), shown as such.
    log = text_of(client.get(usage_url(owner)).get_data(as_text=True).split('id="request-table"')[1])
    assert "req_list" in log and "model list" in log


def test_usage_times_carry_their_zone_and_amounts_read_short(client, owner):
    add_log(owner.workspace, "req_tiny", cost_micro=14, when=datetime(2026, 12, 1, 9, 5))
    add_log(owner.workspace, "req_some", cost_micro=1_234_567, when=datetime(2026, 12, 1, 9, 6))
    page = text_of(client.get(usage_url(owner, **{"from": "2026-12-01", "to": "2026-12-01"})).get_data(as_text=True))
    assert "2026-12-01 09:05" in page and "Time (UTC)" in page
    assert "<¥0.0001" in page and "¥1.2346" in page and "¥0.000014" not in page


def test_the_request_log_detail_and_csv_name_the_api_surface(client, owner):
    add_log(owner.workspace, "req_msg", surface="messages")
    add_log(owner.workspace, "req_resp", surface="responses")
    add_log(owner.workspace, "req_chat", surface="chat_completions")
    html = client.get(usage_url(owner)).get_data(as_text=True)
    # Chat completions is the default and goes unbadged, which keeps the log within a laptop's width.
    assert html.count('<span class="badge surface"') == 2 and "Messages</span>" in html and "Responses</span>" in html
    chat = client.get(f"/console/w/{owner.slug}/usage/requests/req_chat").get_data(as_text=True)
    assert re.search(r'id="request-surface">\s*Chat Completions\s*<', chat)
    detail = client.get(f"/console/w/{owner.slug}/usage/requests/req_msg").get_data(as_text=True)
    assert re.search(r'id="request-surface">\s*Messages\s*<', detail)
    rows = list(csv.DictReader(io.StringIO(client.get(f"/console/w/{owner.slug}/usage/export.csv")
                                           .get_data(as_text=True))))
    assert {row["request_id"]: row["api_surface"] for row in rows} == {
        "req_msg": "messages", "req_resp": "responses", "req_chat": "chat_completions"}
