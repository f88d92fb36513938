"""A request's hold and capture (one statement each on PostgreSQL): all of it happens, or none of it."""
import pytest
from sqlalchemy import func, select

from ethergate.billing import ledger
from ethergate.billing.models import Hold, LedgerEntry
from ethergate.extensions import db
from ethergate.usage.models import RequestLog
from ethergate.usage.recorder import INSERT_LOG, log_values


@pytest.fixture
def workspace(factories):
    return factories.workspace(credits="10.00")


def count(model, **where) -> int:
    query = select(func.count()).select_from(model).filter_by(**where)
    try:
        return db.session.execute(query).scalar_one()
    finally:
        db.session.rollback()


def log_row(request_id: str, **fields) -> dict:
    return log_values(request_id=request_id, method="POST", path="/v1/chat/completions", status_code=200, **fields)


def test_a_capture_writes_its_log_row_entry_and_balance_together(workspace):
    hold = ledger.reserve(workspace.id, 2_000_000, request_id="c1")
    entry = ledger.capture(hold, 700_000, also_insert=(INSERT_LOG, log_row("c1", cost_micro=700_000)),
                           request_id="c1", model_id="deepseek/deepseek-v4-flash", pricing={"output": 1})
    assert entry.balance_after == 9_300_000 and entry.amount == -700_000
    assert ledger.account_state(workspace.id) == (9_300_000, 0)
    assert count(RequestLog, request_id="c1") == 1 and count(LedgerEntry, hold_id=hold) == 1
    assert ledger.recompute_balance(workspace.id) == 9_300_000


def test_a_second_capture_writes_nothing_at_all(workspace):
    hold = ledger.reserve(workspace.id, 1_000_000, request_id="c2")
    ledger.capture(hold, 100, also_insert=(INSERT_LOG, log_row("c2")))
    with pytest.raises(ledger.LedgerError):
        ledger.capture(hold, 100, also_insert=(INSERT_LOG, log_row("c2-again")))
    assert count(RequestLog, request_id="c2-again") == 0
    assert ledger.account_state(workspace.id) == (10_000_000 - 100, 0)


def test_a_free_capture_releases_the_hold_without_an_entry(workspace):
    hold = ledger.reserve(workspace.id, 1_000_000, request_id="c3")
    assert ledger.capture(hold, 0, also_insert=(INSERT_LOG, log_row("c3"))) is None
    assert ledger.account_state(workspace.id) == (10_000_000, 0)
    assert count(LedgerEntry, hold_id=hold) == 0 and count(RequestLog, request_id="c3") == 1


def test_a_refused_hold_leaves_no_hold_row(workspace):
    before = count(Hold, workspace_id=workspace.id)
    with pytest.raises(ledger.InsufficientCredits) as refused:
        ledger.reserve(workspace.id, 20_000_000, request_id="too-much")
    assert (refused.value.balance, refused.value.available) == (10_000_000, 10_000_000)
    assert count(Hold, workspace_id=workspace.id) == before


def test_a_capped_key_is_held_and_released_with_the_account(factories, workspace):
    key = factories.key(workspace).key
    hold = ledger.reserve(workspace.id, 600_000, request_id="k1", api_key_id=key.id, key_cap=1_000_000)
    ledger.capture(hold, 250_000, also_insert=(INSERT_LOG, log_row("k1")), request_id="k1")
    again = ledger.reserve(workspace.id, 750_000, request_id="k2", api_key_id=key.id, key_cap=1_000_000)
    with pytest.raises(ledger.SpendCapExceeded) as capped:
        ledger.reserve(workspace.id, 1, request_id="k3", api_key_id=key.id, key_cap=1_000_000)
    assert (capped.value.spent, capped.value.held) == (250_000, 750_000)
    assert ledger.void(again) is True
    assert ledger.account_state(workspace.id) == (10_000_000 - 250_000, 0)
