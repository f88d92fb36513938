"""The fast path (PostgreSQL's one-statement hold and capture) and the general path leave identical rows.

The same seeded operations run twice on the same engine, once per path, each in its own workspace with
its own keys, at the same instants; every row they wrote is then compared with the ids mapped away.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from ethergate.billing import ledger
from ethergate.billing.models import CreditAccount, Hold, LedgerEntry
from ethergate.extensions import db
from ethergate.billing.models import KeySpend
from ethergate.usage.models import RequestLog
from ethergate.usage.recorder import INSERT_LOG, log_values

T0 = datetime(2026, 12, 6, 3, 0, 0, 123456)
PRICING = {"input_micro": 800_000, "cached_input_micro": 160_000, "output_micro": 2_000_000, "per_tokens": 1_000_000,
           "source": "tier<=131072", "currency": "CNY"}


def row(request_id: str, workspace_id: int, hold_id: int, at: datetime, **fields) -> dict:
    fields.setdefault("status_code", 200)
    return log_values(request_id=request_id, workspace_id=workspace_id, hold_id=hold_id, method="POST",
                      path="/v1/chat/completions", created_at=at, **fields)


def run_operations(workspace_id: int, key_id: int, capped_key_id: int) -> None:
    at = T0
    tick = timedelta(seconds=1)

    def capture(hold: int, cost: int, request_id: str, **refs):
        nonlocal at
        at += tick
        return ledger.capture(hold, cost, now=at, pricing=PRICING, request_id=request_id, model_id="qwen/qwen-plus",
                              provider="qwen", prompt_tokens=100, completion_tokens=10, **refs,
                              also_insert=(INSERT_LOG, row(request_id, workspace_id, hold, at, cost_micro=cost)))

    a = ledger.reserve(workspace_id, 1_000_000, request_id="a", now=at)
    capture(a, 300_000, "a")
    b = ledger.reserve(workspace_id, 500_000, request_id="b", api_key_id=key_id, now=at)
    capture(b, 0, "b")
    c = ledger.reserve(workspace_id, 2_000_000, request_id="c", api_key_id=key_id, now=at)
    at += tick
    ledger.void(c, now=at, also_insert=(INSERT_LOG, row("c", workspace_id, c, at, status_code=502)))
    with pytest.raises(ledger.InsufficientCredits):
        ledger.reserve(workspace_id, 20_000_000, request_id="d", now=at)
    e = ledger.reserve(workspace_id, 400_000, request_id="e", ttl_seconds=60, now=at)
    assert ledger.sweep(now=at + timedelta(seconds=61)).released == 1
    capture(e, 100_000, "e")
    f = ledger.reserve(workspace_id, 100, request_id="f", api_key_id=key_id, now=at)
    capture(f, 5_000, "f", over_hold=True, estimated=True)
    g = ledger.reserve(workspace_id, 600_000, request_id="g", api_key_id=capped_key_id, key_cap=1_000_000, now=at)
    capture(g, 250_000, "g")
    with pytest.raises(ledger.SpendCapExceeded):
        ledger.reserve(workspace_id, 800_000, request_id="h", api_key_id=capped_key_id, key_cap=1_000_000, now=at)
    i = ledger.reserve(workspace_id, 300_000, request_id="i", now=at)
    assert ledger.mark_capture_due(i, 7_000, {"request_id": "i", "model_id": "qwen/qwen-plus", "prompt_tokens": 9},
                                   PRICING, now=at) is True
    assert ledger.sweep(now=at).posted == 1


def rows_of(workspace_id: int, key_ids: tuple[int, int]) -> dict:
    def plain(model, *where, order):
        table = model.__table__
        return [dict(r._mapping) for r in db.session.execute(select(table).where(*where).order_by(*order))]

    holds = plain(Hold, Hold.workspace_id == workspace_id, order=[Hold.id])
    ordinal = {h["id"]: n for n, h in enumerate(holds)}
    keys = {key_ids[0]: "key", key_ids[1]: "capped", None: None}

    def mapped(items: list[dict]) -> list[dict]:
        for item in items:
            item.pop("id", None)
            item.pop("workspace_id", None)
            if "hold_id" in item:
                item["hold_id"] = ordinal.get(item["hold_id"])
            if "api_key_id" in item:
                item["api_key_id"] = keys[item["api_key_id"]]
        return items

    found = {"holds": mapped(holds),
             "entries": mapped(plain(LedgerEntry, LedgerEntry.workspace_id == workspace_id,
                                                LedgerEntry.kind == "usage", order=[LedgerEntry.id])),
             "logs": mapped(plain(RequestLog, RequestLog.workspace_id == workspace_id, order=[RequestLog.id])),
             "account": mapped(plain(CreditAccount, CreditAccount.workspace_id == workspace_id, order=[])),
             "key_spend": mapped(plain(KeySpend, KeySpend.api_key_id.in_(key_ids), order=[KeySpend.api_key_id]))}
    db.session.rollback()
    return found


def test_fast_and_general_paths_leave_identical_rows(factories, monkeypatch, engine):
    if engine != "postgresql":
        pytest.skip("SQLite has only the general path")
    runs = []
    for fast in (True, False):
        monkeypatch.setattr(ledger, "FAST_PATH", fast)
        workspace = factories.workspace(credits="10.00")
        keys = (factories.key(workspace).key.id, factories.key(workspace).key.id)
        workspace_id = workspace.id
        db.session.rollback()
        run_operations(workspace_id, *keys)
        runs.append(rows_of(workspace_id, keys))
        assert ledger.recompute_balance(workspace_id) == ledger.account_state(workspace_id)[0]
    fast, general = runs
    assert len(fast["entries"]) == 5 and len(fast["logs"]) == 6
    for table in fast:
        assert fast[table] == general[table], table
