"""Signed-in sessions as rows, so a user can see where they are signed in and end any of them.

The browser's cookie (and the remember-me cookie) holds a random session key; the row keeps its digest.
Signing out anywhere ends the row, and a cookie whose row has ended signs nobody in.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from ..database import unit_of_work
from ..extensions import db
from ..timeutil import utcnow
from .models import User
from .services import record_audit
from .tokens import digest

# Writing "last seen" on every page view would cost a write per request; this is fine enough to read.
TOUCH_EVERY = timedelta(minutes=5)
# A session unused this long ends by itself, remember-me cookie or not.
IDLE_LIMIT = timedelta(days=30)


class UserSession(db.Model):
    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    ended_at: Mapped[datetime | None]


@unit_of_work()
def start(user: User, ip: str | None, user_agent: str | None) -> str:
    """A new session row (committed); returns the key the cookie carries."""
    key = secrets.token_urlsafe(24)
    now = utcnow()
    db.session.add(UserSession(user_id=user.id, key_digest=digest(key), created_at=now, last_seen_at=now,
                               ip=(ip or "")[:64] or None, user_agent=(user_agent or "")[:255] or None))
    return key


def live(user_id: int, key: str) -> UserSession | None:
    row = db.session.scalar(select(UserSession).where(UserSession.key_digest == digest(key)))
    if row is None or row.user_id != user_id or row.ended_at is not None or \
            row.last_seen_at <= utcnow() - IDLE_LIMIT:
        return None
    return row


def touch(row: UserSession, ip: str | None) -> None:
    now = utcnow()
    if now - row.last_seen_at < TOUCH_EVERY:
        return
    with unit_of_work():
        row.last_seen_at, row.ip = now, (ip or "")[:64] or row.ip


def active(user: User) -> list[UserSession]:
    return db.session.scalars(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None),
        UserSession.last_seen_at > utcnow() - IDLE_LIMIT)
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())).all()


@unit_of_work()
def end(user: User, session_id: int | None = None, keep_key: str | None = None) -> int:
    """End one session (by id), or every session but the one holding `keep_key`; returns how many ended.

    Joins the caller's unit of work when there is one.
    """
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if session_id is not None:
        query = query.where(UserSession.id == session_id)
    if keep_key is not None:
        query = query.where(UserSession.key_digest != digest(keep_key))
    return db.session.execute(query.values(ended_at=utcnow())).rowcount


@unit_of_work()
def end_key(user: User, key: str) -> None:
    """End the session holding `key`."""
    db.session.execute(update(UserSession).where(
        UserSession.user_id == user.id, UserSession.key_digest == digest(key), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow()))


@unit_of_work()
def end_others(user: User, keep_key: str | None) -> int:
    """The user signs out everywhere else; audited. Returns how many sessions ended."""
    ended = end(user, keep_key=keep_key)
    record_audit("user.sessions_ended", actor=user, target=user.email, details={"sessions_ended": ended})
    return ended
