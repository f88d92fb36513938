"""A capture that cannot be written when its request ends is owed on the hold and posted by the sweep, once.

The failure is real: a database trigger refuses usage entries while it exists, so the capture's
transaction fails inside the database, on SQLite and on PostgreSQL, through the real gateway code.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from prometheus_client import REGISTRY

from ethergate.billing import ledger
from ethergate.billing.sweeper import sweep_once
from ethergate.billing.models import Hold, LedgerEntry
from ethergate.extensions import db
from ethergate.timeutil import utcnow
from ethergate.usage.models import RequestLog
from tests.support.gateway import app, chat  # noqa: F401  (app: fixture)

USAGE = '[[fake:{"usage": {"prompt_tokens": 900, "completion_tokens": 300}}]]'

SQLITE_TRIGGER = ["""CREATE TRIGGER refuse_usage BEFORE INSERT ON ledger_entries WHEN NEW.kind = 'usage'
                     BEGIN SELECT RAISE(ABORT, 'usage entries refused'); END"""]
PG_TRIGGER = ["""CREATE FUNCTION refuse_usage() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'usage entries refused'; END $$""",
              """CREATE TRIGGER refuse_usage BEFORE INSERT ON ledger_entries FOR EACH ROW
                 WHEN (NEW.kind = 'usage') EXECUTE FUNCTION refuse_usage()"""]


@contextmanager
def usage_entries_refused():
    postgres = db.engine.dialect.name == "postgresql"
    for statement in PG_TRIGGER if postgres else SQLITE_TRIGGER:
        db.session.execute(text(statement))
    db.session.commit()
    try:
        yield
    finally:
        db.session.execute(text("DROP TRIGGER refuse_usage ON ledger_entries" if postgres
                                else "DROP TRIGGER refuse_usage"))
        if postgres:
            db.session.execute(text("DROP FUNCTION refuse_usage()"))
        db.session.commit()


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0


def read(query):
    try:
        return db.session.execute(query).all()
    finally:
        db.session.rollback()


def usage_entries(workspace_id: int) -> list:
    table = LedgerEntry.__table__
    return read(select(table).where(table.c.workspace_id == workspace_id, table.c.kind == "usage"))


def hold_of(request_id: str):
    [hold] = read(select(Hold.__table__).where(Hold.__table__.c.request_id == request_id))
    return hold


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
def test_a_failed_capture_is_owed_then_posted_exactly_once(app, factories, stream):
    tenant = factories.tenant(credits="20.00")
    workspace_id = tenant.workspace.id
    client = app.test_client()
    request_id = f"owed-{int(stream)}"
    owed = metric("ethergate_captures_owed_total", outcome="owed")
    with usage_entries_refused():
        response = chat(client, tenant.plaintext, request_id, text="Summarise this " + USAGE, stream=stream)
        body = response.get_data(as_text=True)  # a stream settles when its body has been read
        assert response.status_code == 200, body
        assert "Hello from fake qwen" in body or "Hello" in body  # the client got its answer
        [row] = read(select(RequestLog.__table__).where(RequestLog.__table__.c.request_id == request_id))
        assert row.status_code == 200 and row.cost_micro > 0 and row.prompt_tokens == 900
        hold = hold_of(request_id)
        assert hold.status == "pending" and hold.capture_due_at is not None
        assert metric("ethergate_captures_owed_total", outcome="owed") == owed + 1
        assert hold.capture_cost_micro == row.cost_micro and hold.capture_pricing["input_micro"] > 0
        assert usage_entries(workspace_id) == []
        assert ledger.account_state(workspace_id) == (20_000_000, hold.amount_micro)
        # While the database still refuses, the sweep fails, keeps it owed, and never releases it.
        result = ledger.sweep(now=utcnow() + timedelta(hours=2))
        assert (result.posted, result.failed, result.released) == (0, 1, 0)

    owed_before = metric("ethergate_captures_posted_by_sweep_total")
    sweep_once(app)  # what every server runs every ETHERGATE_SWEEP_INTERVAL_SECONDS
    again = ledger.sweep(now=utcnow() + timedelta(hours=2))
    assert (again.posted, again.released) == (0, 0)
    assert metric("ethergate_captures_posted_by_sweep_total") == owed_before + 1
    [entry] = usage_entries(workspace_id)
    assert entry.amount_micro == -row.cost_micro and entry.hold_id == hold.id and entry.request_id == request_id
    assert (entry.prompt_tokens, entry.completion_tokens) == (900, 300) and entry.pricing == hold.capture_pricing
    assert hold_of(request_id).status == "captured"
    assert ledger.account_state(workspace_id) == (20_000_000 - row.cost_micro, 0)
    assert ledger.recompute_balance(workspace_id) == 20_000_000 - row.cost_micro
    assert len(read(select(RequestLog.__table__).where(RequestLog.__table__.c.request_id == request_id))) == 1


def test_a_capture_that_committed_is_not_owed_again(factories):
    workspace = factories.workspace(credits="10.00")
    hold = ledger.reserve(workspace.id, 1_000_000, request_id="done")
    ledger.capture(hold, 5_000, request_id="done")
    assert ledger.mark_capture_due(hold, 5_000, {"request_id": "done"}, {}) is False
    assert ledger.sweep().posted == 0
    assert db.session.execute(select(func.count()).select_from(LedgerEntry)
                              .where(LedgerEntry.hold_id == hold)).scalar_one() == 1
    db.session.rollback()
