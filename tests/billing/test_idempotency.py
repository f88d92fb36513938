"""Idempotency keys: a replay with the same request returns the first entry, another request is a conflict."""
import pytest
from sqlalchemy import func, select

from ethergate.accounts.models import AuditEvent
from ethergate.billing import codes, grants, ledger
from ethergate.billing.models import LedgerEntry
from ethergate.extensions import db


@pytest.fixture
def workspace(factories):
    return factories.workspace(credits="10.00")


def keyed_entries(workspace_id) -> list[LedgerEntry]:
    return list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.workspace_id == workspace_id,
                                                             LedgerEntry.idempotency_key.is_not(None))))


def test_same_request_replays_and_stores_its_hash(workspace):
    first = ledger.post_entry(workspace.id, 1_000_000, "topup", idempotency_key="inv-1", note="invoice 1",
                              reference="INV-1")
    again = ledger.post_entry(workspace.id, 1_000_000, "topup", idempotency_key="inv-1", note="invoice 1",
                              reference="INV-1")
    assert again.replayed and (again.id, again.balance_after) == (first.id, first.balance_after)
    [entry] = keyed_entries(workspace.id)
    assert entry.request_hash == ledger.request_hash(workspace.id, "topup", 1_000_000,
                                                     {"note": "invoice 1", "reference": "INV-1"})
    assert ledger.account_state(workspace.id) == (11_000_000, 0)


@pytest.mark.parametrize("change", [{"note": "invoice 2"}, {"reference": "INV-2"}, {"amount": 2_000_000},
                                    {"kind": "grant"}])
def test_a_reused_key_with_another_request_is_refused(workspace, change):
    ledger.post_entry(workspace.id, 1_000_000, "topup", idempotency_key="inv-1", note="invoice 1", reference="INV-1")
    request = dict(amount=1_000_000, kind="topup", note="invoice 1", reference="INV-1")
    request.update(change)
    with pytest.raises(ledger.IdempotencyConflict, match="already used for a different request"):
        ledger.post_entry(workspace.id, request.pop("amount"), request.pop("kind"), idempotency_key="inv-1", **request)
    assert len(keyed_entries(workspace.id)) == 1
    assert ledger.account_state(workspace.id) == (11_000_000, 0)


def test_staff_grant_replays_only_the_same_note(factories, workspace):
    staff = factories.user(staff=True)
    grants.grant(workspace.id, 2_000_000, staff, "trial credits", idempotency_key="form-1")
    assert grants.grant(workspace.id, 2_000_000, staff, "trial credits", idempotency_key="form-1").replayed
    with pytest.raises(ledger.IdempotencyConflict):
        grants.grant(workspace.id, 2_000_000, staff, "invoice 7 paid", idempotency_key="form-1")
    audits = db.session.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action == "credits.grant"))
    assert audits == 1 and ledger.account_state(workspace.id) == (12_000_000, 0)


def test_an_entry_without_a_stored_hash_still_compares_its_body(workspace):
    ledger.post_entry(workspace.id, 1_000_000, "topup", idempotency_key="old-1", note="legacy")
    db.session.execute(LedgerEntry.__table__.update().values(request_hash=None))
    db.session.commit()
    assert ledger.post_entry(workspace.id, 1_000_000, "topup", idempotency_key="old-1", note="legacy").replayed
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.post_entry(workspace.id, 1_000_000, "topup", idempotency_key="old-1", note="other")


@pytest.mark.parametrize("movement", ["console grant", "cli adjustment", "redemption"])
def test_a_failed_audit_write_leaves_no_entry(factories, workspace, monkeypatch, movement):
    """Every entry point writes the entry and its audit row in one transaction: neither without the other."""
    staff = factories.user(staff=True)
    _code, plaintext = codes.create_code(3_000_000, note="promo")
    workspace_id = workspace.id

    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr("ethergate.billing.grants.record_audit", broken_audit)
    monkeypatch.setattr("ethergate.billing.codes.record_audit", broken_audit)
    with pytest.raises(RuntimeError):
        if movement == "console grant":
            grants.grant(workspace_id, 1_000_000, staff, "goodwill", idempotency_key="f-1")
        elif movement == "cli adjustment":
            grants.adjust(workspace_id, -1_000_000, None, "fee", idempotency_key="c-1", operator="cli")
        else:
            codes.redeem_code(workspace_id, plaintext)
    db.session.rollback()
    kinds = db.session.scalars(select(LedgerEntry.kind).where(LedgerEntry.workspace_id == workspace_id)).all()
    assert kinds == ["grant"]  # the factory's funding alone
    assert ledger.account_state(workspace_id) == (10_000_000, 0)
    monkeypatch.undo()
    assert codes.redeem_code(workspace_id, plaintext).amount == 3_000_000  # the code was not used up
