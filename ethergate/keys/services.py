"""Issuing and looking up cr_ keys. A key is shown once; only its SHA-256 digest is stored."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from ..extensions import db
from .models import ApiKey

KEY_PREFIX = "cr_"
KEY_RANDOM_CHARS = 40
DISPLAY_CHARS = 8  # "cr_" + 5 characters of the random part


class KeyError_(ValueError):
    pass


@dataclass
class IssuedKey:
    key: ApiKey
    plaintext: str


def digest_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def generate_key() -> str:
    # token_urlsafe gives ~1.3 chars per byte from the URL-safe alphabet [A-Za-z0-9_-].
    return KEY_PREFIX + secrets.token_urlsafe(32)[:KEY_RANDOM_CHARS].ljust(KEY_RANDOM_CHARS, "0")


def display_prefix(plaintext: str) -> str:
    return plaintext[:DISPLAY_CHARS]


def issue_key(workspace_id: int, name: str = "default", created_by_id: int | None = None,
              rpm_limit: int | None = None, tpm_limit: int | None = None,
              monthly_spend_cap_micro: int | None = None, allowed_models: list[str] | None = None,
              expires_at=None, rotated_from_id: int | None = None) -> IssuedKey:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise KeyError_("key name must be 1 to 120 characters")
    for label, value in (("rpm", rpm_limit), ("tpm", tpm_limit)):
        if value is not None and value < 1:
            raise KeyError_(f"{label} limit must be a positive whole number")
    if monthly_spend_cap_micro is not None and monthly_spend_cap_micro <= 0:
        raise KeyError_("monthly spend cap must be positive")
    plaintext = generate_key()
    key = ApiKey(workspace_id=workspace_id, name=name, prefix=display_prefix(plaintext),
                 digest=digest_key(plaintext), created_by_id=created_by_id, rpm_limit=rpm_limit,
                 tpm_limit=tpm_limit, monthly_spend_cap_micro=monthly_spend_cap_micro,
                 allowed_models=allowed_models or None, expires_at=expires_at, rotated_from_id=rotated_from_id)
    db.session.add(key)
    db.session.flush()
    return IssuedKey(key=key, plaintext=plaintext)
