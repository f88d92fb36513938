"""Redemption codes: created by staff with only their digest kept, redeemed into the ledger exactly once.

Redeeming flips the code with a conditional UPDATE and writes the ledger credit in the same transaction,
so a code lands once however often or concurrently it is retried.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from ..accounts.models import User
from ..accounts.services import record_audit
from ..database import unit_of_work
from ..extensions import db
from ..timeutil import utcnow
from . import ledger
from .models import RedemptionCode
from .topup_errors import InvalidAmount, TopupError

codes = RedemptionCode.__table__

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: codes are read aloud and retyped
CODE_GROUPS, CODE_GROUP_CHARS = 4, 4
CODE_PREFIX_CHARS = 7  # "EG-XXXX", enough for support to find a code without revealing it


class UnknownCode(TopupError):
    def __init__(self):
        super().__init__("This redemption code is not valid. Check it and try again.")


class CodeAlreadyRedeemed(TopupError):
    def __init__(self, by_this_workspace: bool):
        self.by_this_workspace = by_this_workspace
        super().__init__("This code was already redeemed by this workspace." if by_this_workspace
                         else "This code has already been redeemed.")


class CodeExpired(TopupError):
    def __init__(self, expires_at: datetime):
        self.expires_at = expires_at
        super().__init__(f"This code expired on {expires_at:%Y-%m-%d %H:%M} UTC.")


def normalize_code(text: str) -> str | None:
    """The canonical EG-XXXX-XXXX-XXXX-XXXX form of what a user typed, or None if it cannot be a code."""
    raw = "".join(ch for ch in (text or "").upper() if ch.isalnum())
    if raw.startswith("EG") and len(raw) == 2 + CODE_GROUPS * CODE_GROUP_CHARS:
        raw = raw[2:]
    if len(raw) != CODE_GROUPS * CODE_GROUP_CHARS or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    groups = [raw[i:i + CODE_GROUP_CHARS] for i in range(0, len(raw), CODE_GROUP_CHARS)]
    return "EG-" + "-".join(groups)


def digest_code(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@unit_of_work()
def create_code(amount_micro: int, note: str | None = None, created_by: User | None = None,
                expires_at: datetime | None = None, actor_label: str | None = None,
                description: str | None = None) -> tuple[RedemptionCode, str]:
    """A new code worth `amount_micro`; the plaintext is returned once and only its digest is kept.

    `note` stays with staff (audit log, support pages); `description` is the redeemer's ledger note.
    """
    if amount_micro <= 0:
        raise InvalidAmount("a redemption code must be worth a positive amount")
    if expires_at is not None and expires_at <= utcnow():
        raise TopupError("the expiry must be in the future")
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_CHARS))
    plaintext = normalize_code(raw)
    code = RedemptionCode(prefix=plaintext[:CODE_PREFIX_CHARS], digest=digest_code(plaintext),
                          amount_micro=amount_micro, note=(note or "").strip() or None,
                          description=(description or "").strip() or None,
                          created_by_id=created_by.id if created_by else None, created_at=utcnow(),
                          expires_at=expires_at)
    db.session.add(code)
    record_audit("code.created", actor=created_by, actor_label=actor_label or (None if created_by else "system"),
                 target=code.prefix, details={"amount_micro": amount_micro, "note": code.note,
                                              "description": code.description})
    return code, plaintext


def redeem_code(workspace_id: int, plaintext: str, user: User | None = None,
                actor_label: str | None = None) -> ledger.PostedEntry:
    """Credit the code's amount to the workspace, exactly once across all callers."""
    canonical = normalize_code(plaintext)
    if canonical is None:
        raise UnknownCode()
    digest, now = digest_code(canonical), utcnow()
    user_id = user.id if user else None
    with unit_of_work() as conn:
        claimed = conn.execute(
            update(codes)
            .where(codes.c.digest == digest, codes.c.redeemed_at.is_(None),
                   codes.c.expires_at.is_(None) | (codes.c.expires_at > now))
            .values(redeemed_at=now, redeemed_workspace_id=workspace_id, redeemed_by_id=user_id)
            .returning(codes.c.id, codes.c.amount_micro, codes.c.prefix, codes.c.description)).first()
        if claimed is None:
            raise _why_not_redeemable(conn, digest, workspace_id)
        entry = ledger.append(conn, workspace_id, claimed.amount_micro, "redemption", reference=claimed.prefix,
                              idempotency_key=f"code:{claimed.id}", note=claimed.description, actor_user_id=user_id,
                              actor_label=user.email if user else actor_label, created_at=now)
        record_audit("code.redeemed", actor=user, actor_label=actor_label, workspace_id=workspace_id,
                     target=claimed.prefix,
                     details={"amount_micro": claimed.amount_micro, "entry_id": entry.id})
        return entry


def _why_not_redeemable(conn: Connection, digest: str, workspace_id: int) -> TopupError:
    row = conn.execute(select(codes.c.redeemed_at, codes.c.redeemed_workspace_id, codes.c.expires_at)
                       .where(codes.c.digest == digest)).first()
    if row is None:
        return UnknownCode()
    if row.redeemed_at is not None:
        return CodeAlreadyRedeemed(by_this_workspace=row.redeemed_workspace_id == workspace_id)
    return CodeExpired(row.expires_at) if row.expires_at is not None else UnknownCode()
