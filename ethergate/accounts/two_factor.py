"""TOTP two-factor sign-in (RFC 6238, via pyotp) and single-use recovery codes.

A code from the authenticator is accepted for the current 30-second step and one step either side
(clock drift), and never twice: the last accepted step is stored. Recovery codes are kept as digests
and each works once.
"""
from __future__ import annotations

import hmac
import re
import secrets
import time
from datetime import datetime

import pyotp
import segno
from sqlalchemy import ForeignKey, Integer, String, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from ..database import unit_of_work
from ..extensions import db
from ..timeutil import utcnow
from .models import User
from .services import record_audit
from .tokens import digest

ISSUER = "EtherGate"
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
DRIFT_STEPS = 1


class RecoveryCode(db.Model):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_code(uri: str) -> str:
    """The setup link as a QR code, an SVG data: URI (the page's CSP allows data: images, not remote ones)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step whose code this is (within the drift allowance), or None."""
    code = re.sub(r"\s+", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    current = int(now // totp.interval)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_totp(user: User, code: str, secret: str | None = None) -> bool:
    """A fresh code for the user's secret (or `secret`, while setting up); records its step (caller commits)."""
    step = matching_step(secret or user.totp_secret or "", code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def normalize_recovery(code: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (code or "").lower())


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one unused recovery code (in the caller's transaction)."""
    hashed = digest(normalize_recovery(code))
    claimed = db.session.execute(update(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.digest == hashed, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()))
    return claimed.rowcount == 1


@unit_of_work()
def verify_second_factor(user: User, code: str) -> str | None:
    """"totp" or "recovery" when the code is good (and now spent), else None."""
    if not user.two_factor_enabled:
        return None
    if check_totp(user, code):
        return "totp"
    if use_recovery_code(user, code):
        return "recovery"
    return None


def issue_recovery_codes(user: User) -> list[str]:
    """A new set of codes, replacing any earlier set; the plain codes are shown once and never stored."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, digest=digest(raw)))
    db.session.flush()
    return codes


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


@unit_of_work()
def pending_secret(user: User) -> str:
    """The secret being set up: kept on the user row (not yet enabled) so it never travels in a cookie."""
    if user.two_factor_enabled:
        raise ValueError("two-factor is already on")
    if not user.totp_secret:
        user.totp_secret = new_secret()
    return user.totp_secret


@unit_of_work()
def enable(user: User, code: str) -> list[str] | None:
    """Turn two-factor on once `code` proves the authenticator holds the pending secret; returns recovery codes."""
    step = matching_step(pending_secret(user), code)
    if step is None:
        return None
    user.totp_enabled_at, user.totp_last_step = utcnow(), step
    codes = issue_recovery_codes(user)
    record_audit("user.two_factor_enabled", actor=user, target=user.email)
    return codes


@unit_of_work()
def turn_off(user: User, code: str) -> bool:
    """Two-factor off when `code` is a good second factor (it is spent either way it succeeds)."""
    if verify_second_factor(user, code) is None:
        return False
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record_audit("user.two_factor_disabled", actor=user, target=user.email)
    return True


@unit_of_work()
def renew_recovery_codes(user: User, code: str) -> list[str] | None:
    """A new set of recovery codes once `code` is a fresh authenticator code, else None."""
    if not check_totp(user, code):
        return None
    codes = issue_recovery_codes(user)
    record_audit("user.recovery_codes_renewed", actor=user, target=user.email)
    return codes
