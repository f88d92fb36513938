"""What went wrong upstream, classified so the router knows whether another route could help.

Error bodies seen from each provider (tests/fakes/formats.py has captured examples):
- DeepSeek: {"error": {"message", "type", "param", "code"}}; 402 "Insufficient Balance";
  400 "Model Not Exist" for an unknown model; request id in the x-ds-trace-id header.
- Qwen compatible mode: {"error": {...}, "id", "request_id"}; DashScope native {"code", "message",
  "request_id"}; out of balance is 400 "Arrearage", a free-tier-only account 403
  "AllocationQuota.FreeTierOnly"; request id in x-request-id (or x-dashscope-request-id) and the body.
- Moonshot: {"error": {"message", "type"}}; out of balance is 429 exceeded_current_quota_error,
  overload 429 engine_overloaded_error; request id in the msh-request-id header.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Mapping

RETRYABLE_KINDS = frozenset({"rate_limited", "server", "network", "timeout"})
# Problems with our own provider account or catalog: never the caller's fault.
OPERATOR_KINDS = frozenset({"balance", "auth", "not_found"})
MAX_MESSAGE = 500
MAX_RETRY_AFTER = 3600.0

BALANCE_CODES = frozenset({
    "arrearage", "allocationquota.freetieronly", "exceeded_current_quota_error", "insufficient_quota",
    "insufficient_balance", "insufficient_user_quota",
})
BALANCE_PHRASES = ("insufficient balance", "insufficient_balance", "account is in good standing", "recharge",
                   "overdue", "arrearage", "exceeded your current quota", "free tier", "欠费", "余额不足")
OVERLOAD_CODES = frozenset({"engine_overloaded_error", "server_overloaded", "serviceunavailable",
                            "service_unavailable"})
AUTH_CODES = frozenset({"invalid_api_key", "invalidapikey", "invalid_authentication_error",
                        "incorrect_api_key_error", "authentication_error", "permission_denied_error",
                        "accessdenied", "access_denied"})
NOT_FOUND_CODES = frozenset({"model_not_found", "modelnotfound", "resource_not_found_error"})

REQUEST_ID_HEADERS = {
    "deepseek": ("x-ds-trace-id", "x-request-id"),
    "qwen": ("x-request-id", "x-dashscope-request-id"),
    "moonshot": ("msh-request-id", "x-request-id", "x-msh-request-id"),
}
DEFAULT_REQUEST_ID_HEADERS = ("x-request-id", "request-id")


@dataclass
class UpstreamFailure:
    kind: str  # rate_limited | server | balance | bad_request | auth | not_found | network | timeout
    status: int | None
    message: str
    provider: str
    retry_after: float | None = None
    provider_code: str | None = None
    upstream_request_id: str | None = None

    @property
    def retryable(self) -> bool:
        """True when the same request may succeed later or on another route."""
        return self.kind in RETRYABLE_KINDS

    @property
    def operator_fault(self) -> bool:
        """Our provider key, our provider balance or our catalog: alert the operator, never blame the user."""
        return self.kind in OPERATOR_KINDS

    @property
    def public_message(self) -> str:
        """What a caller may read: the provider's words only when they are about the caller's request."""
        if self.kind == "bad_request":
            return self.message
        if self.kind == "rate_limited":
            return f"The {self.provider} upstream is rate limiting requests; retry shortly."
        if self.kind == "timeout":
            return f"The {self.provider} upstream did not answer in time."
        return f"The {self.provider} upstream is unavailable right now."


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == lowered), None)
    value = str(value).strip() if value is not None else ""
    return value or None


def upstream_request_id(provider: str, headers: Mapping[str, str] | None, body_obj: dict | None = None) -> str | None:
    """The provider's id for this request, as their support would ask for it."""
    for name in REQUEST_ID_HEADERS.get(provider, DEFAULT_REQUEST_ID_HEADERS):
        value = _header(headers, name)
        if value:
            return value[:128]
    if isinstance(body_obj, dict):
        error = body_obj.get("error") if isinstance(body_obj.get("error"), dict) else {}
        for value in (body_obj.get("request_id"), error.get("request_id")):
            if isinstance(value, str) and value.strip():
                return value.strip()[:128]
    return None


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from retry-after-ms or Retry-After (delta-seconds or an HTTP date), capped."""
    ms = _header(headers, "retry-after-ms")
    if ms:
        try:
            return min(max(float(ms) / 1000.0, 0.0), MAX_RETRY_AFTER)
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return min(max(when.timestamp() - (time.time() if now is None else now), 0.0), MAX_RETRY_AFTER)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _error_fields(obj) -> tuple[str | None, str | None, str | None]:
    """(message, type, code) from any of the providers' error body shapes."""
    if not isinstance(obj, dict):
        return None, None, None
    error = obj.get("error")
    if isinstance(error, dict):
        source = error
    elif isinstance(error, str):
        source = {"message": error, "code": obj.get("code"), "type": obj.get("type")}
    else:
        source = obj
    message = source.get("message")
    kind, code = source.get("type"), source.get("code")
    return (message if isinstance(message, str) and message.strip() else None,
            str(kind) if kind not in (None, "") else None,
            str(code) if code not in (None, "") else None)


def _kind_for(status: int, message: str, type_: str | None, code: str | None) -> str:
    marks = {m.lower() for m in (type_, code) if m}
    text = message.lower()
    if marks & BALANCE_CODES or (status in (400, 402, 403, 429) and any(p in text for p in BALANCE_PHRASES)):
        return "balance"
    if status == 402:
        return "balance"
    if status in (401, 403) or (marks & AUTH_CODES and status < 500):
        return "auth"
    if status == 404 or marks & NOT_FOUND_CODES:
        return "not_found"
    if status == 400 and "model" in text and ("not exist" in text or "not found" in text):
        return "not_found"
    if marks & OVERLOAD_CODES:
        return "server"
    if status == 429:
        return "rate_limited"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server"
    return "bad_request"


def classify_http_error(provider: str, status: int, body: bytes, headers: Mapping[str, str] | None) -> UpstreamFailure:
    """An upstream non-200 answer as an UpstreamFailure, keeping the provider's own words when they parse."""
    parsed = None
    if body:
        try:
            parsed = json.loads(body.decode("utf-8", errors="replace"))
        except ValueError:
            parsed = None
    message, type_, code = _error_fields(parsed)
    kind = _kind_for(status, message or "", type_, code)
    text = _clip(message) if message else f"upstream returned HTTP {status}"
    return UpstreamFailure(
        kind=kind, status=status, message=text, provider=provider,
        retry_after=parse_retry_after(headers) if kind in RETRYABLE_KINDS else None,
        provider_code=code or type_,
        upstream_request_id=upstream_request_id(provider, headers, parsed if isinstance(parsed, dict) else None))


def classify_stream_error(provider: str, payload: dict) -> UpstreamFailure:
    """An error object sent inside a 200 event stream; after the first byte nothing can fail over."""
    message, type_, code = _error_fields(payload)
    status = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("status"), int):
        status = error["status"]
    kind = _kind_for(status or 500, message or "", type_, code)
    return UpstreamFailure(kind, status, _clip(message) if message else "upstream sent an error in the stream",
                           provider, provider_code=code or type_,
                           upstream_request_id=upstream_request_id(provider, None, payload))


def network_failure(provider: str, exc: BaseException) -> UpstreamFailure:
    detail = _clip(str(exc))[:200]
    message = f"could not reach {provider}: {type(exc).__name__}" + (f" ({detail})" if detail else "")
    return UpstreamFailure("network", None, message, provider)


def timeout_failure(provider: str, phase: str) -> UpstreamFailure:
    return UpstreamFailure("timeout", None, f"{provider} did not answer in time ({phase})", provider)
