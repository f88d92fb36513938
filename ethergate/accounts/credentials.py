"""Passwords and email addresses: change, reset by email, verify, move to a new address.

Each function is one unit of work: its change and its audit row commit together. Tokens come from `tokens`
(single-use, expiring, stored as digests); the caller puts them in a link and mails it.
"""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from ..database import unit_of_work
from ..extensions import db
from ..timeutil import utcnow
from . import sessions, tokens
from .models import User
from .services import MIN_PASSWORD, AccountError, find_user, normalize_email, record_audit

MAX_PASSWORD = 200


def check_new_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password must be at most {MAX_PASSWORD} characters")
    return password


@unit_of_work()
def change_password(user: User, current: str, new: str, keep_session_key: str | None) -> int:
    """Set a new password after checking the current one; ends every other session. Returns how many."""
    if not user.check_password(current or ""):
        raise AccountError("wrong current password")
    user.set_password(check_new_password(new))
    ended = sessions.end(user, keep_key=keep_session_key)
    record_audit("user.password_changed", actor=user, target=user.email, details={"sessions_ended": ended})
    return ended


@unit_of_work()
def request_password_reset(email: str) -> tuple[User, str] | None:
    """A reset token for the account with this email, or None when there is none (the caller says the same)."""
    user = find_user(email or "")
    if user is None:
        return None
    token = tokens.issue(user, tokens.RESET_PASSWORD)
    record_audit("user.password_reset_requested", actor=user, target=user.email)
    return user, token


@unit_of_work()
def reset_password(token: str, new: str) -> User:
    """Use a reset token: new password, every session ended, and the address counts as verified."""
    check_new_password(new)
    row = tokens.consume(token, tokens.RESET_PASSWORD)
    user = row.user
    user.set_password(new)
    user.email_verified_at = user.email_verified_at or utcnow()
    ended = sessions.end(user)
    record_audit("user.password_reset", actor=user, target=user.email, details={"sessions_ended": ended})
    return user


@unit_of_work()
def start_verification(user: User) -> str:
    token = tokens.issue(user, tokens.VERIFY_EMAIL)
    return token


@unit_of_work()
def verify_email(token: str) -> User:
    row = tokens.consume(token, tokens.VERIFY_EMAIL)
    user = row.user
    user.email_verified_at = user.email_verified_at or utcnow()
    record_audit("user.email_verified", actor=user, target=user.email)
    return user


def mark_verified(user: User) -> None:
    """In the caller's transaction: the user proved they hold the address (e.g. by an invite link)."""
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        record_audit("user.email_verified", actor=user, target=user.email, details={"via": "invitation"})


@unit_of_work()
def request_email_change(user: User, new_email: str, password: str) -> tuple[str, str]:
    """(normalized new address, token to confirm it); the address changes only once the link is used."""
    if not user.check_password(password or ""):
        raise AccountError("wrong current password")
    new_email = normalize_email(new_email)
    if new_email == user.email:
        raise AccountError("that is already your email address")
    if find_user(new_email) is not None:
        raise AccountError("another account uses that email address")
    token = tokens.issue(user, tokens.CHANGE_EMAIL, new_email=new_email)
    record_audit("user.email_change_requested", actor=user, target=user.email, details={"to": new_email})
    return new_email, token


@unit_of_work()
def confirm_email_change(token: str) -> tuple[User, str]:
    """(user, old address): the new address is set and verified."""
    row = tokens.consume(token, tokens.CHANGE_EMAIL)
    user = row.user
    if find_user(row.new_email) is not None:
        raise AccountError("another account uses that email address")
    old = user.email
    user.email, user.email_verified_at = row.new_email, utcnow()
    record_audit("user.email_changed", actor=user, target=row.new_email, details={"from": old})
    try:
        db.session.flush()  # a concurrent change to the same address loses here, not at the commit
    except IntegrityError:
        raise AccountError("another account uses that email address") from None
    return user, old
