"""A request that outlives its hold: the sweep gives the held credit back, and the request, when it ends, is
billed in full all the same, in the balance and in its key's monthly spend, exactly once."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ethergate.billing import ledger
from ethergate.billing.models import Hold, LedgerEntry
from ethergate.extensions import db
from ethergate.billing.models import KeySpend
from ethergate.timeutil import utcnow
from tests.support.gateway import app, chat  # noqa: F401  (app: fixture)


def key_month(key_id: int) -> tuple[int, int]:
    try:
        row = db.session.execute(select(KeySpend.spent_micro, KeySpend.held_micro)
                                 .where(KeySpend.api_key_id == key_id)).one()
        return int(row[0]), int(row[1])
    finally:
        db.session.rollback()


def test_a_late_capture_counts_in_the_keys_spend_and_resolves_the_hold_once(factories):
    workspace = factories.workspace(credits="10.00")
    key = factories.key(workspace).key
    hold = ledger.reserve(workspace.id, 600_000, request_id="late", api_key_id=key.id, key_cap=1_000_000,
                          ttl_seconds=60)
    assert ledger.sweep(now=utcnow() + timedelta(seconds=61)).released == 1
    assert key_month(key.id) == (0, 0) and ledger.account_state(workspace.id) == (10_000_000, 0)

    entry = ledger.capture(hold, 700_000, request_id="late")
    assert entry.balance_after == 9_300_000 and ledger.account_state(workspace.id) == (9_300_000, 0)
    assert key_month(key.id) == (700_000, 0)
    stored = db.session.get(LedgerEntry, entry.id)
    assert stored.hold_id == hold and "after the hold expired" in stored.note
    assert db.session.get(Hold, hold).status == "captured"
    db.session.rollback()
    with pytest.raises(ledger.LedgerError):
        ledger.capture(hold, 700_000, request_id="late")
    with pytest.raises(ledger.SpendCapExceeded):
        ledger.reserve(workspace.id, 400_000, request_id="next", api_key_id=key.id, key_cap=1_000_000)
    assert ledger.recompute_balance(workspace.id) == 9_300_000


def test_a_stream_that_outlives_its_hold_is_billed_when_it_ends(app, factories):
    tenant = factories.tenant(credits="20.00", monthly_spend_cap_micro=5_000_000)
    key_id, workspace_id = tenant.key.id, tenant.workspace.id
    response = chat(app.test_client(), tenant.plaintext, "outlives", stream=True,
                    text='hi [[fake:{"chunks": 4, "usage": {"prompt_tokens": 50, "completion_tokens": 400}}]]')
    chunks = iter(response.response)
    assert b"data:" in next(chunks)
    # The hold's TTL passes while the stream is still being read: the sweep expires it and frees the credit.
    assert ledger.sweep(now=utcnow() + timedelta(hours=1)).released == 1
    assert ledger.account_state(workspace_id)[1] == 0
    rest = b"".join(chunks)
    response.close()
    assert b"data: [DONE]" in rest
    [entry] = db.session.scalars(select(LedgerEntry).where(LedgerEntry.request_id == "outlives")).all()
    assert entry.completion_tokens == 400 and entry.amount_micro < 0 and "after the hold expired" in entry.note
    assert db.session.get(Hold, entry.hold_id).status == "captured"
    db.session.rollback()
    assert key_month(key_id) == (-entry.amount_micro, 0)
    assert ledger.account_state(workspace_id) == (20_000_000 + entry.amount_micro, 0)
    assert ledger.recompute_balance(workspace_id) == 20_000_000 + entry.amount_micro
