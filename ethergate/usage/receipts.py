"""A request's receipt and a workspace's credit position, as the API gives them to the key's owner.

The receipt is read back from what billing wrote: the request-log row (what happened) and the usage
ledger entry (what was debited, with the tokens and prices it was computed from). Nothing here is
recomputed from today's catalog, so a receipt stays true after a price change.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from ..billing.models import CreditAccount, Hold, LedgerEntry
from ..database import unit_of_work
from .models import RequestLog

logs = RequestLog.__table__
entries = LedgerEntry.__table__
holds = Hold.__table__
accounts = CreditAccount.__table__

TOKEN_KINDS = ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens")


@dataclass(frozen=True)
class Receipt:
    log: dict                 # the request-log row
    entry: dict | None        # the usage ledger entry, when something was debited
    hold_status: str | None   # pending | captured | voided | expired, when the request held credits

    @property
    def cost_micro(self) -> int:
        """What the workspace was charged: the ledger's debit, which is the bill."""
        return -int(self.entry["amount_micro"]) if self.entry is not None else 0

    @property
    def tokens(self) -> dict:
        source = self.entry if self.entry is not None else self.log
        return {kind: int(source[kind] or 0) for kind in TOKEN_KINDS}

    @property
    def estimated(self) -> bool:
        return bool((self.entry or self.log)["estimated"])


@dataclass(frozen=True)
class CreditPosition:
    balance_micro: int
    held_micro: int

    @property
    def available_micro(self) -> int:
        return self.balance_micro - self.held_micro


def request_receipt(workspace_id: int, request_id: str) -> Receipt | None:
    """The receipt of a request made by this workspace, or None (unknown, or another workspace's)."""
    with unit_of_work() as conn:
        # A client may reuse an X-Request-Id; the first request under it is the one the ID names.
        log = conn.execute(select(logs).where(logs.c.workspace_id == workspace_id, logs.c.request_id == request_id)
                           .order_by(logs.c.id).limit(1)).mappings().first()
        if log is None:
            return None
        match = [entries.c.request_id == request_id]
        if log["hold_id"] is not None:
            match.append(entries.c.hold_id == log["hold_id"])
        usage = conn.execute(select(entries).where(entries.c.workspace_id == workspace_id, entries.c.kind == "usage",
                                                   or_(*match))
                             .order_by(entries.c.id)).mappings().all()
        hold_status = None
        if log["hold_id"] is not None:
            hold_status = conn.execute(select(holds.c.status).where(holds.c.id == log["hold_id"])).scalar()
    # The entry of this request's hold when there is one; a capture after the hold expired has only the ID.
    entry = next((e for e in usage if log["hold_id"] is not None and e["hold_id"] == log["hold_id"]), None)
    if entry is None:
        entry = next((e for e in usage if e["hold_id"] is None), None)
    return Receipt(dict(log), dict(entry) if entry is not None else None, hold_status)


def credit_position(workspace_id: int) -> CreditPosition:
    with unit_of_work() as conn:
        row = conn.execute(select(accounts.c.balance_micro, accounts.c.held_micro)
                           .where(accounts.c.workspace_id == workspace_id)).first()
    return CreditPosition(int(row[0]), int(row[1])) if row is not None else CreditPosition(0, 0)
