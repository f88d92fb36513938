"""Errors on the Messages surface, in Anthropic's envelope, keeping EtherGate's code and request ID.

The HTTP status and EtherGate's `code` stay those of the GatewayError; only the envelope and the error
`type` follow Anthropic, whose clients branch on the type (Claude Code retries overloaded_error).
"""
from __future__ import annotations

import json

from ..errors import GatewayError

TYPE_BY_STATUS = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 408: "timeout_error", 413: "invalid_request_error", 422: "invalid_request_error",
    429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error",
}


def invalid(path: str, problem: str) -> GatewayError:
    """A 400 naming the offending field as Anthropic does: dotted, with list indexes ("messages.2.content")."""
    return GatewayError(400, "invalid_request_error", f"{path}: {problem}", "invalid_request_error", path)


def error_type(status: int) -> str:
    return TYPE_BY_STATUS.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(error: GatewayError, request_id: str | None) -> dict:
    detail = {"type": error_type(error.status), "message": error.message, "code": error.code}
    if error.param:
        detail["param"] = error.param
    if error.provider:
        detail["provider"] = error.provider
    body = {"type": "error", "error": detail}
    if request_id:
        body["request_id"] = request_id
    return body


def error_event(error: GatewayError, request_id: str | None) -> bytes:
    """The `error` event that ends a stream which had already started."""
    data = json.dumps(error_body(error, request_id), ensure_ascii=False, separators=(",", ":"))
    return b"event: error\ndata: " + data.encode("utf-8") + b"\n\n"
