"""Opening a workspace's credit account: whoever creates a workspace opens it in the same transaction."""
from __future__ import annotations

from ..extensions import db
from .models import CreditAccount


def open_account(workspace_id: int) -> CreditAccount:
    """A zero balance with nothing held, added to the caller's transaction; every ledger move needs the row."""
    account = CreditAccount(workspace_id=workspace_id, balance_micro=0, held_micro=0)
    db.session.add(account)
    db.session.flush()
    return account
