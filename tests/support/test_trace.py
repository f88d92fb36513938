"""The request trace, for requests driven through the real gateway in the same app (fake upstream behind it)."""
from __future__ import annotations

from sqlalchemy import select

from ethergate.billing.models import Hold, LedgerEntry
from ethergate.extensions import db
from ethergate.i18n import format_money
from ethergate.usage.models import RequestLog
from tests.support.gateway import app, chat, section, shows, stamp  # noqa: F401  (app: fixture)

USAGE = {"prompt_tokens": 1200, "cached_tokens": 400, "completion_tokens": 300, "reasoning_tokens": 120}


def log_rows(request_id: str) -> list[RequestLog]:
    return list(db.session.scalars(select(RequestLog).where(RequestLog.request_id == request_id)
                                   .order_by(RequestLog.id)))


def money(app, micro: int) -> str:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        return format_money(micro)


def trace_page(client, request_id: str) -> str:
    response = client.get(f"/support/requests/{request_id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


def assert_request_fields(html: str, row: RequestLog, workspace, key) -> None:
    part = section(html, f"log-{row.id}-request")
    for value in (row.request_id, stamp(row.created_at), f"{row.method} {row.path}", workspace.name, workspace.slug,
                  key.prefix, key.name, row.model_id, row.status_code, row.client_ip, row.user_agent):
        assert shows(part, value), value
    for value in (row.provider, row.upstream_model, row.upstream_request_id, row.error_code, row.error_message):
        if value:
            assert shows(part, value), value


def test_successful_request_shows_every_field(app, client, staff, factories, fake_upstream):
    tenant = factories.tenant(credits="20.00", name="laptop")
    prompt = "Write a launch checklist [[fake:" + '{"usage": %s}' % str(USAGE).replace("'", '"') + "]]"
    response = chat(client, tenant.plaintext, "sup-ok-001", text=prompt)
    assert response.status_code == 200, response.get_data(as_text=True)
    [row] = log_rows("sup-ok-001")
    hold = db.session.get(Hold, row.hold_id)
    [entry] = db.session.scalars(select(LedgerEntry).where(LedgerEntry.hold_id == hold.id)).all()
    assert row.upstream_request_id and row.cost_micro > 0 and entry.amount_micro == -row.cost_micro

    html = trace_page(client, "sup-ok-001")
    assert_request_fields(html, row, tenant.workspace, tenant.key)
    [attempt] = row.attempts
    attempts = section(html, f"log-{row.id}-attempts")
    for value in ("qwen", "qwen-plus", "200", f"{attempt['latency_ms']} ms", row.upstream_request_id):
        assert shows(attempts, value), value

    usage = section(html, f"log-{row.id}-usage")
    for label, value in (("Prompt tokens", "1,200"), ("Cached prompt tokens", "400"), ("Completion tokens", "300"),
                         ("Reasoning tokens", "120")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in usage
    assert f"<dt>Cost</dt><dd>{money(app, row.cost_micro)}</dd>" in usage
    assert "<dt>Estimated</dt><dd>no</dd>" in usage and "<dt>Cancelled</dt><dd>no</dd>" in usage
    assert f"<dt>Latency</dt><dd>{row.latency_ms:,} ms</dd>" in usage

    held = section(html, f"log-{row.id}-hold")
    for value in (f"#{hold.id}", money(app, hold.amount_micro), "captured", money(app, hold.captured_micro),
                  stamp(hold.created_at), stamp(hold.resolved_at), stamp(hold.expires_at)):
        assert shows(held, value), value
    ledger = section(html, f"log-{row.id}-ledger")
    for value in (f"#{entry.id}", money(app, entry.amount_micro), money(app, entry.balance_after_micro), "usage",
                  f"hold #{hold.id}"):
        assert shows(ledger, value), value


def test_failed_over_request_shows_both_attempts(app, client, staff, factories, fake_upstream):
    tenant = factories.tenant(credits="20.00")
    fake_upstream.add_behavior("qwen", {"status": 500, "error_message": "engine overloaded"}, model="qwen-plus",
                               times=1)
    response = chat(client, tenant.plaintext, "sup-failover-1")
    assert response.status_code == 200, response.get_data(as_text=True)
    [row] = log_rows("sup-failover-1")
    first, second = row.attempts
    assert (first["upstream_model"], first["status"], first["kind"]) == ("qwen-plus", 500, "server")
    assert (second["upstream_model"], second["status"]) == ("qwen-plus-latest", 200)

    html = trace_page(client, "sup-failover-1")
    assert_request_fields(html, row, tenant.workspace, tenant.key)
    attempts = section(html, f"log-{row.id}-attempts")
    assert attempts.count('class="row attempt"') == 2
    tried_first, tried_second = attempts.split('class="row attempt"')[1:]
    for value in ("1. qwen", "qwen-plus", "500", f"{first['latency_ms']} ms", "server", first["error"]):
        assert shows(tried_first, value), value
    for value in ("2. qwen", "qwen-plus-latest", "200", f"{second['latency_ms']} ms", row.upstream_request_id):
        assert shows(tried_second, value), value
    assert "captured" in section(html, f"log-{row.id}-hold")


def test_refused_402_shows_the_message_and_no_hold(app, client, staff, factories):
    tenant = factories.tenant(credits="0.01")
    response = chat(client, tenant.plaintext, "sup-402-1")
    assert response.status_code == 402
    assert response.get_json()["error"]["code"] == "insufficient_credits"
    [row] = log_rows("sup-402-1")
    assert row.hold_id is None and "Insufficient credits" in row.error_message

    html = trace_page(client, "sup-402-1")
    assert_request_fields(html, row, tenant.workspace, tenant.key)
    assert shows(section(html, f"log-{row.id}-request"), "insufficient_credits")
    assert "No provider was called" in section(html, f"log-{row.id}-attempts")
    assert "No hold was placed" in section(html, f"log-{row.id}-hold")
    assert "nothing was charged" in section(html, f"log-{row.id}-ledger")
    assert f"<dt>Cost</dt><dd>{money(app, 0)}</dd>" in section(html, f"log-{row.id}-usage")


def test_a_reused_request_id_lists_every_request(app, client, staff, factories):
    first, second = factories.tenant(credits="20.00"), factories.tenant(credits="0.01")
    assert chat(client, first.plaintext, "demo-001").status_code == 200
    assert chat(client, second.plaintext, "demo-001").status_code == 402
    html = trace_page(client, "demo-001")
    assert "2 requests carry this ID" in html
    rows = log_rows("demo-001")
    assert_request_fields(html, rows[0], first.workspace, first.key)
    assert_request_fields(html, rows[1], second.workspace, second.key)
    # Each request shows its own hold: the paid one's, and none for the refusal.
    assert "captured" in section(html, f"log-{rows[0].id}-hold")
    assert "No hold was placed" in section(html, f"log-{rows[1].id}-hold")


def test_a_hold_without_a_log_row_is_still_shown(app, client, staff, factories):
    from ethergate.billing import ledger
    tenant = factories.tenant(credits="5.00")
    hold_id = ledger.reserve(tenant.workspace.id, 1_500_000, request_id="crashed-1", api_key_id=tenant.key.id)
    html = trace_page(client, "crashed-1")
    part = section(html, "unmatched")
    assert f"#{hold_id}" in part and "pending" in part and tenant.workspace.name in part


def test_unknown_request_id_says_so(client, staff):
    assert "No request, hold or ledger entry has the ID" in trace_page(client, "req_nothing")


def test_a_capture_larger_than_its_hold_is_billed_flagged_counted_and_shown(app, client, staff, factories, caplog):
    from prometheus_client import REGISTRY

    def over_hold_count() -> float:
        return REGISTRY.get_sample_value("ethergate_captures_over_hold_total", {"model": "qwen/qwen-plus"}) or 0

    tenant = factories.tenant(credits="20.00")
    before = over_hold_count()
    # max_tokens 5 bounds the hold, and the provider then reports 40,000 completion tokens.
    text = 'hi [[fake:{"usage": {"prompt_tokens": 20, "completion_tokens": 40000}}]]'
    with caplog.at_level("WARNING", logger="ethergate.billing"):
        response = chat(client, tenant.plaintext, "sup-over-1", text=text, max_tokens=5)
    assert response.status_code == 200, response.get_data(as_text=True)
    [row] = log_rows("sup-over-1")
    hold = db.session.get(Hold, row.hold_id)
    [entry] = db.session.scalars(select(LedgerEntry).where(LedgerEntry.hold_id == hold.id)).all()
    assert entry.over_hold and -entry.amount_micro == row.cost_micro > hold.amount_micro
    assert response.get_json()["usage"]["cost"] == f"{row.cost_micro / 1_000_000:.6f}"
    assert over_hold_count() == before + 1
    assert any("more than its hold" in r.getMessage() and "sup-over-1" in r.getMessage() for r in caplog.records)
    assert "over hold" in section(trace_page(client, "sup-over-1"), f"log-{row.id}-ledger")


def test_a_stream_broken_midway_is_a_failed_request_for_support(app, client, staff, factories):
    from prometheus_client import REGISTRY

    def interrupted() -> float:
        return REGISTRY.get_sample_value("ethergate_upstream_errors_total",
                                         {"provider": "qwen", "kind": "stream_interrupted"}) or 0

    tenant = factories.tenant(credits="20.00")
    before = interrupted()
    response = chat(client, tenant.plaintext, "sup-cut-1", text='hi [[fake:{"drop_after": 2, "chunks": 6}]]',
                    stream=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "provider_request_failed" in body
    [row] = log_rows("sup-cut-1")
    assert (row.status_code, row.error_code, row.estimated) == (502, "provider_request_failed", True)
    assert row.cost_micro > 0  # the client did receive the first chunks
    assert interrupted() == before + 1
    html = trace_page(client, "sup-cut-1")
    assert shows(section(html, f"log-{row.id}-request"), "provider_request_failed")
    recent = client.get(f"/support/workspaces/{tenant.workspace.slug}").get_data(as_text=True)
    assert "provider_request_failed" in recent
    from ethergate.usage.reports import UsageFilter, errors_by_code, model_mix
    usage = UsageFilter(tenant.workspace.id, row.created_at.date(), row.created_at.date())
    errors = [(e.status_code, e.error_code, e.count) for e in errors_by_code(usage)]
    assert errors == [(502, "provider_request_failed", 1)]
    assert [(m.requests, m.errors) for m in model_mix(usage)] == [(1, 1)]


def test_the_trace_names_the_api_surface(app, client, staff, factories, fake_upstream):
    tenant = factories.tenant(credits="20.00")
    response = client.post("/v1/messages", headers={"x-api-key": tenant.plaintext, "X-Request-Id": "sup-msg-1"},
                           json={"model": "qwen/qwen-plus", "max_tokens": 50,
                                 "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    [row] = log_rows("sup-msg-1")
    assert row.surface == "messages" and row.cost_micro > 0
    assert shows(section(trace_page(client, "sup-msg-1"), f"log-{row.id}-request"), "Messages")
