"""Staff grants and adjustments: credits added or corrected by hand, each with a note saying why."""
from __future__ import annotations

from ..accounts.models import User
from ..accounts.services import record_audit
from . import ledger
from .topup_errors import InvalidAmount, TopupError


class NoteRequired(TopupError):
    pass


class StaffOnly(TopupError):
    pass


def grant(workspace_id: int, amount_micro: int, actor: User | None, note: str,
          idempotency_key: str | None = None, operator: str | None = None) -> ledger.PostedEntry:
    """Staff adds credits (goodwill, trials, invoices paid offline)."""
    if amount_micro <= 0:
        raise InvalidAmount("a grant must be a positive amount")
    return _staff_entry("grant", workspace_id, amount_micro, actor, note, idempotency_key, operator)


def adjust(workspace_id: int, amount_micro: int, actor: User | None, note: str,
           idempotency_key: str | None = None, operator: str | None = None) -> ledger.PostedEntry:
    """Staff corrects the balance with a signed entry; a debit never takes available credit below zero."""
    if amount_micro == 0:
        raise InvalidAmount("an adjustment must move money")
    return _staff_entry("adjustment", workspace_id, amount_micro, actor, note, idempotency_key, operator)


def _staff_entry(kind: str, workspace_id: int, amount: int, actor: User | None, note: str,
                 idempotency_key: str | None, operator: str | None) -> ledger.PostedEntry:
    """The entry and its audit row in one transaction, from the console (`actor`, a staff user) or from a
    server-side entry point (`operator`, e.g. "cli": whoever runs it already has the database)."""
    note = (note or "").strip()
    if not note:
        raise NoteRequired(f"a {kind} needs a note saying why")
    if operator is None and (actor is None or not actor.is_staff):
        raise StaffOnly(f"only staff can make a {kind}")
    origin = operator or "staff"
    key = f"{origin}-{kind}:{workspace_id}:{idempotency_key}" if idempotency_key else None
    actor_id, label = (actor.id, actor.email) if actor is not None else (None, operator)

    def audit(entry: ledger.PostedEntry) -> None:
        record_audit(f"credits.{kind}", actor=actor, actor_label=label, workspace_id=workspace_id,
                     details={"amount_micro": amount, "note": note, "entry_id": entry.id})

    return ledger.post_entry(workspace_id, amount, kind, idempotency_key=key, also=audit, note=note,
                             actor_user_id=actor_id, actor_label=label)
