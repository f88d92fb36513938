"""Letting a /v1 request in: its API key, the key's request and token limits, and the headers that report them."""
from __future__ import annotations

import math

from flask import current_app, request

from ..keys.auth import CONSOLE_KEY_ENVIRON, authenticate, authenticate_console, touch_last_used
from ..limits.limiter import LimiterUnavailable, get_limiter
from .errors import GatewayError


def rate_limit_headers(result) -> dict:
    return {"X-RateLimit-Limit": str(result.limit), "X-RateLimit-Remaining": str(max(result.remaining, 0)),
            "X-RateLimit-Reset": str(max(math.ceil(result.reset_seconds), 0))}


def retry_headers(seconds: float) -> dict:
    return {"Retry-After": str(max(math.ceil(seconds), 1)), "retry-after-ms": str(max(int(seconds * 1000), 1))}


def admit_key(charge, authorization: str | None) -> None:
    """Authenticate, then count the request against the key's per-minute limit (refusing with 429 over it)."""
    # The console's playground names its workspace key in the WSGI environ, which no network client can set.
    console_key_id = request.environ.get(CONSOLE_KEY_ENVIRON)
    key = authenticate_console(console_key_id) if console_key_id else authenticate(authorization)
    if key is None:
        raise charge.surface.missing_key()
    charge.key = key
    try:
        result = get_limiter(current_app).hit(str(key.id), key.rpm_limit)
    except LimiterUnavailable:
        raise GatewayError(503, "rate_limiter_unavailable",
                           "The rate limiter is unavailable, so requests are refused until it recovers. "
                           "Retry shortly.", "api_error", headers=retry_headers(5)) from None
    charge.rate = result
    if not result.allowed:
        raise GatewayError(
            429, "rate_limit_exceeded",
            f"This API key exceeded its limit of {result.limit} requests per minute. "
            f"Retry after {max(math.ceil(result.retry_after), 1)} s.",
            "rate_limit_error", headers=retry_headers(result.retry_after))
    touch_last_used(key.id)


def admit_tokens(key) -> None:
    try:
        result = get_limiter(current_app).check_tokens(str(key.id), key.tpm_limit, 1)
    except LimiterUnavailable:
        return  # the request limit above already decided how to behave without the limiter
    if not result.allowed:
        raise GatewayError(429, "tokens_rate_limit_exceeded",
                           f"This API key used its {key.tpm_limit} tokens per minute. "
                           f"Retry after {max(math.ceil(result.retry_after), 1)} s.",
                           "rate_limit_error", headers=retry_headers(result.retry_after))


def record_tokens(key, total_tokens: int) -> None:
    if not key.tpm_limit:
        return
    try:
        get_limiter(current_app).record_tokens(str(key.id), total_tokens)
    except LimiterUnavailable:
        pass
