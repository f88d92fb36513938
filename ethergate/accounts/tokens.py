"""Single-use links sent by email (verify an address, reset a password, confirm a new address).

The link carries a random token; the database keeps only its SHA-256 digest, so a copy of the table
opens no account. A token expires, and `consume` marks it used in the same transaction as the change
it authorises.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .models import User

VERIFY_EMAIL, RESET_PASSWORD, CHANGE_EMAIL = "verify_email", "reset_password", "change_email"
LIFETIMES = {
    VERIFY_EMAIL: timedelta(days=2),
    RESET_PASSWORD: timedelta(hours=1),
    CHANGE_EMAIL: timedelta(days=1),
}
INVITATION_LIFETIME = timedelta(days=7)


class AccountToken(db.Model):
    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(24))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    new_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class TokenError(ValueError):
    """The link is unknown, used or expired; `reason` is one of those words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def new_token() -> tuple[str, str]:
    """(token for the link, digest to store)."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(user: User, purpose: str, new_email: str | None = None) -> str:
    """A fresh token (in the caller's transaction); earlier unused tokens of the same purpose stop working."""
    now = utcnow()
    db.session.execute(update(AccountToken).where(
        AccountToken.user_id == user.id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=now))
    token, hashed = new_token()
    db.session.add(AccountToken(user_id=user.id, purpose=purpose, digest=hashed, new_email=new_email,
                                created_at=now, expires_at=now + LIFETIMES[purpose]))
    db.session.flush()
    return token


def peek(token: str, purpose: str) -> AccountToken:
    """The live token row, or TokenError; does not use it up."""
    row = db.session.scalar(select(AccountToken).where(
        AccountToken.digest == digest(token or ""), AccountToken.purpose == purpose))
    if row is None:
        raise TokenError("unknown")
    if row.used_at is not None:
        raise TokenError("used")
    if row.expires_at <= utcnow():
        raise TokenError("expired")
    return row


def consume(token: str, purpose: str) -> AccountToken:
    """Mark the token used (in the caller's transaction); a second use, even a concurrent one, fails."""
    row = peek(token, purpose)
    claimed = db.session.execute(update(AccountToken).where(
        AccountToken.id == row.id, AccountToken.used_at.is_(None)).values(used_at=utcnow()))
    if claimed.rowcount != 1:
        raise TokenError("used")
    return row
