"""Password hashing: scrypt in production; a one-round hash only for an app created with TESTING."""
from __future__ import annotations

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

STRONG_METHOD = "scrypt"  # Werkzeug's memory-hard default
TESTING_METHOD = "pbkdf2:sha256:1"  # scrypt costs ~0.2 s per sign-in, which the test suite pays thousands of times


def hash_method() -> str:
    return TESTING_METHOD if current_app.config.get("TESTING") else STRONG_METHOD


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=hash_method())


def password_matches(password_hash: str, password: str) -> bool:
    # The stored hash names its own method, so a test hash never verifies slower or differently.
    return check_password_hash(password_hash, password)
