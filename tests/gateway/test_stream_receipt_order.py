"""A finished stream is billed before its last event leaves: a client that looks its request up
(GET /v1/requests/{id}) the moment it reads `data: [DONE]` finds the receipt, and the ledger entry is
already committed. In-process, against the fake upstream over real HTTP."""
from __future__ import annotations

from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from ethergate.billing import ledger
from ethergate.billing.models import Hold, LedgerEntry
from ethergate.extensions import db
from ethergate.usage.models import RequestLog
from tests.support.gateway import app  # noqa: F401  (fixture)


def test_the_capture_is_committed_before_the_done_event_is_sent(app, factories):
    tenant = factories.tenant(credits="20.00")
    environ = EnvironBuilder(path="/v1/chat/completions", method="POST",
                             json={"model": "qwen/qwen-plus", "stream": True,
                                   "stream_options": {"include_usage": True},
                                   "messages": [{"role": "user", "content": "hi"}]},
                             headers={"Authorization": f"Bearer {tenant.plaintext}",
                                      "X-Request-Id": "done-after-capture"}).get_environ()
    started = []
    body = app(environ, lambda status, headers, exc_info=None: started.append(status))
    assert started == ["200 OK"]
    seen = b""
    try:
        for chunk in body:
            seen += chunk
            if b"data: [DONE]" in seen:
                break  # the client has the last event and asks for its receipt now
        else:
            raise AssertionError(f"the stream ended without [DONE]: {seen[-500:]!r}")
        try:
            [hold] = db.session.scalars(select(Hold).where(Hold.request_id == "done-after-capture")).all()
            rows = db.session.scalars(select(RequestLog).where(RequestLog.request_id == "done-after-capture")).all()
            entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.hold_id == hold.id)).all()
        finally:
            db.session.rollback()
        assert hold.status == "captured"
        assert [(row.status_code, row.cancelled) for row in rows] == [(200, False)]
        assert len(entries) == 1 and entries[0].amount_micro == -rows[0].cost_micro < 0
    finally:
        body.close()
    # Closing the finished stream bills nothing more: one entry, one row, balance = sum of entries.
    [row] = db.session.scalars(select(RequestLog).where(RequestLog.request_id == "done-after-capture")).all()
    db.session.rollback()
    balance, held = ledger.account_state(tenant.workspace.id)
    assert held == 0 and balance == 20_000_000 - row.cost_micro == ledger.recompute_balance(tenant.workspace.id)
