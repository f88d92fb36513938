"""The key format: `cr_` and 40 URL-safe characters; stored as a SHA-256 digest plus a short display prefix."""
from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "cr_"
KEY_RANDOM_CHARS = 40
DISPLAY_CHARS = 8  # "cr_" + 5 characters of the random part


def digest_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def generate_key() -> str:
    # token_urlsafe gives ~1.3 chars per byte from the URL-safe alphabet [A-Za-z0-9_-].
    return KEY_PREFIX + secrets.token_urlsafe(32)[:KEY_RANDOM_CHARS].ljust(KEY_RANDOM_CHARS, "0")


def display_prefix(plaintext: str) -> str:
    return plaintext[:DISPLAY_CHARS]
