"""Ledger basics: entries, holds resolving exactly once, idempotency, recomputable balances."""
from datetime import timedelta

import pytest

from ethergate.billing import ledger
from ethergate.billing.models import Hold
from ethergate.extensions import db
from ethergate.timeutil import utcnow


@pytest.fixture
def workspace(factories):
    return factories.workspace(credits="10.00")


def balance(workspace_id):
    return ledger.account_state(workspace_id)


def test_grant_then_recompute(workspace):
    ledger.post_entry(workspace.id, 2_500_000, "topup", reference="t1")
    assert balance(workspace.id) == (12_500_000, 0)
    assert ledger.recompute_balance(workspace.id) == 12_500_000


def test_reserve_capture_releases_the_rest(workspace):
    hold = ledger.reserve(workspace.id, 3_000_000, request_id="r1")
    assert balance(workspace.id) == (10_000_000, 3_000_000)
    entry = ledger.capture(hold, 1_234_567, request_id="r1", model_id="qwen/qwen-plus", provider="qwen")
    assert entry.balance_after == 10_000_000 - 1_234_567
    assert balance(workspace.id) == (10_000_000 - 1_234_567, 0)
    assert ledger.recompute_balance(workspace.id) == 10_000_000 - 1_234_567


def test_hold_resolves_exactly_once(workspace):
    hold = ledger.reserve(workspace.id, 1_000_000, request_id="r2")
    assert ledger.void(hold) is True
    assert ledger.void(hold) is False
    with pytest.raises(ledger.LedgerError):
        ledger.capture(hold, 10)
    assert balance(workspace.id) == (10_000_000, 0)


def test_reserve_refuses_more_than_available(workspace):
    ledger.reserve(workspace.id, 9_000_000, request_id="a")
    with pytest.raises(ledger.InsufficientCredits) as info:
        ledger.reserve(workspace.id, 2_000_000, request_id="b")
    assert info.value.available == 1_000_000 and info.value.needed == 2_000_000


def test_expired_holds_are_swept_and_late_capture_still_bills(workspace):
    hold = ledger.reserve(workspace.id, 4_000_000, request_id="r3", ttl_seconds=60)
    assert ledger.sweep_expired_holds(now=utcnow() + timedelta(seconds=61)) == 1
    assert balance(workspace.id) == (10_000_000, 0)
    assert db.session.get(Hold, hold).status == "expired"
    entry = ledger.capture(hold, 500_000, request_id="r3")
    assert entry.balance_after == 9_500_000
    assert balance(workspace.id) == (9_500_000, 0)
    assert ledger.recompute_balance(workspace.id) == 9_500_000


def test_idempotent_entries(workspace):
    first = ledger.post_entry(workspace.id, 1_000_000, "topup", idempotency_key="pay-1")
    again = ledger.post_entry(workspace.id, 1_000_000, "topup", idempotency_key="pay-1")
    assert again.replayed and again.id == first.id
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.post_entry(workspace.id, 2_000_000, "topup", idempotency_key="pay-1")
    assert balance(workspace.id)[0] == 11_000_000


def test_key_monthly_cap(factories, workspace):
    key = factories.key(workspace).key
    ledger.reserve(workspace.id, 600_000, request_id="k1", api_key_id=key.id, key_cap=1_000_000)
    with pytest.raises(ledger.SpendCapExceeded):
        ledger.reserve(workspace.id, 500_000, request_id="k2", api_key_id=key.id, key_cap=1_000_000)
    assert balance(workspace.id) == (10_000_000, 600_000)


def test_negative_adjustment_cannot_exceed_available(workspace):
    with pytest.raises(ledger.InsufficientCredits):
        ledger.post_entry(workspace.id, -20_000_000, "adjustment", note="oops")
    ledger.post_entry(workspace.id, -1_000_000, "adjustment", note="correction")
    assert ledger.recompute_balance(workspace.id) == 9_000_000
