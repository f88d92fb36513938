"""The webhook signature: `EtherGate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "EtherGate-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret: str, body: bytes, header: str, now: int | None = None, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when one v1 signature matches and the timestamp is within `tolerance` seconds (replays fail)."""
    parts = [item.partition("=") for item in header.split(",")]
    stamps = [value for name, _, value in parts if name.strip() == "t"]
    signatures = [value.strip() for name, _, value in parts if name.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
        return False
    t = int(stamps[0])
    if abs((int(time.time()) if now is None else now) - t) > tolerance:
        return False
    expected = sign(secret, body, t).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
