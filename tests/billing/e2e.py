"""Shared pieces of the billing end-to-end tests: what a request holds, and reading the books back.

The generic live-server helpers (fresh reads, waiting, request-log rows, the fake-upstream directive)
come from tests/gateway/e2e.py; these add the ledger's side. Every read goes through `fresh`, because an
open SQLite transaction in the test would hold the write lock the live servers need.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from ethergate.billing import ledger
from ethergate.billing.models import Hold, LedgerEntry
from ethergate.billing.pricing import max_cost
from ethergate.catalog.snapshot import get_snapshot
from ethergate.extensions import db
from ethergate.gateway.providers.adapters import estimate_prompt_tokens
from ethergate.timeutil import utcnow
from tests.conftest import ROOT, TEST_SECRET
from tests.gateway.e2e import fresh, log_rows, say, wait_for  # noqa: F401  (re-exported for the tests)

# Tiered prices and no time-of-day window, so a hold computed here matches the server's at any hour.
MODEL = "qwen/qwen-plus"


def hold_for(messages: list[dict], max_tokens: int, model_id: str = MODEL) -> int:
    """The hold the gateway places for this request: the prompt bound at the input price plus max_tokens."""
    model = fresh(lambda: get_snapshot().resolve(model_id))
    amount, _prices = max_cost(model, estimate_prompt_tokens(messages, None), max_tokens, utcnow())
    return amount


def account(workspace_id: int) -> tuple[int, int]:
    """(balance, held)."""
    return fresh(lambda: ledger.account_state(workspace_id))


def fund(workspace_id: int, micro: int) -> None:
    fresh(lambda: ledger.post_entry(workspace_id, micro, "grant", note="e2e funding", actor_label="test"))


def entries(workspace_id: int, kind: str | None = None) -> list:
    table = LedgerEntry.__table__
    query = select(table).where(table.c.workspace_id == workspace_id).order_by(table.c.id)
    if kind is not None:
        query = query.where(table.c.kind == kind)
    return fresh(lambda: db.session.execute(query).all())


def holds(workspace_id: int) -> list:
    table = Hold.__table__
    return fresh(lambda: db.session.execute(select(table).where(table.c.workspace_id == workspace_id)
                                            .order_by(table.c.id)).all())


def assert_books_balance(workspace_id: int) -> int:
    """Balance == the sum of the entries, each entry's balance_after is the running sum, nothing held."""
    balance, held = account(workspace_id)
    assert held == 0 and fresh(lambda: ledger.pending_held(workspace_id)) == 0, f"workspace {workspace_id}"
    assert balance == fresh(lambda: ledger.recompute_balance(workspace_id)), f"workspace {workspace_id}"
    running = 0
    for entry in entries(workspace_id):
        running += entry.amount_micro
        assert entry.balance_after_micro == running, f"entry {entry.id}"
    return balance


def assert_holds_resolved_once(workspace_id: int) -> list:
    """Every hold is final; a captured one with a cost has exactly one usage entry, the others none."""
    billed: dict[int, list] = {}
    for entry in entries(workspace_id):
        if entry.hold_id is not None:
            assert entry.kind == "usage", entry.id
            billed.setdefault(entry.hold_id, []).append(entry)
    found = holds(workspace_id)
    for hold in found:
        assert hold.status in ("captured", "voided", "expired") and hold.resolved_at is not None, hold.id
        charged = billed.pop(hold.id, [])
        if hold.status == "captured" and hold.captured_micro:
            assert [-e.amount_micro for e in charged] == [hold.captured_micro], hold.id
            assert charged[0].request_id == hold.request_id, hold.id
        else:
            assert charged == [], hold.id
    assert not billed, f"usage entries for holds of another workspace: {sorted(billed)}"
    return found


def flask_cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    """The operator CLI against a live server's database, as an operator runs it next to the server."""
    env = dict(os.environ, ETHERGATE_DATABASE_URL=database_url, ETHERGATE_SECRET_KEY=TEST_SECRET)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def assert_audit_passes(database_url: str) -> None:
    """The operator's auditor finds every balance, held sum and usage cost recomputable from the ledger."""
    db.session.rollback()  # a read left open here would hold SQLite's write lock from the auditor
    result = flask_cli(database_url, "billing", "audit")
    assert result.returncode == 0 and "no discrepancies" in result.stdout, result.stdout + result.stderr


@pytest.fixture(autouse=True)
def clean_fake(fake_upstream):
    """Behaviour rules left by another test would change what these requests meet upstream."""
    fake_upstream.clear()
    yield
    fake_upstream.clear()
