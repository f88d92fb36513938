"""Per-request state on /v1: request ID, the authenticated key, rate-limit headers, errors, the log row."""
from __future__ import annotations

import json
import math
import re
import time
import uuid

from flask import Flask, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..keys.auth import CONSOLE_KEY_ENVIRON, authenticate, authenticate_console, touch_last_used
from ..limits.limiter import LimiterUnavailable, get_limiter
from ..usage.recorder import log_values, record_request
from . import bp
from .errors import GatewayError, invalid_api_key, invalid_request
from .headers import make_headers_safe
from .health import HealthBoard
from .upstream import Upstream

# \Z, not $: "$" would also match before a trailing newline, which a header cannot carry.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}\Z")
# Only bodies with a surrogate escape can decode to text that UTF-8 cannot encode.
LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
# Deep enough for any real tool schema; shallow enough that nothing downstream (json.dumps, estimates) recurses far.
MAX_JSON_DEPTH = 64
MAX_PARAM_CHARS = 200


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex


def runtime(app: Flask | None = None) -> tuple[Upstream, HealthBoard]:
    app = app or current_app
    state = app.extensions.get("ethergate.gateway")
    if state is None:
        health = HealthBoard()
        state = app.extensions["ethergate.gateway"] = (Upstream(app.config, health), health)
    return state


def rate_limit_headers(result) -> dict:
    return {"X-RateLimit-Limit": str(result.limit), "X-RateLimit-Remaining": str(max(result.remaining, 0)),
            "X-RateLimit-Reset": str(max(math.ceil(result.reset_seconds), 0))}


def retry_headers(seconds: float) -> dict:
    return {"Retry-After": str(max(math.ceil(seconds), 1)), "retry-after-ms": str(max(int(seconds * 1000), 1))}


@bp.before_request
def start_request():
    g.started = time.perf_counter()
    sent = request.headers.get("X-Request-Id", "")
    g.request_id = sent if SANE_REQUEST_ID.fullmatch(sent) else new_request_id()
    g.provider = None
    g.rate = None
    g.logged = False
    g.log = {}
    console_key_id = request.environ.get(CONSOLE_KEY_ENVIRON)
    key = authenticate_console(console_key_id) if console_key_id else authenticate(request.headers.get("Authorization"))
    if key is None:
        raise invalid_api_key()
    g.api_key = key
    g.log.update(workspace_id=key.workspace_id, api_key_id=key.id)
    try:
        result = get_limiter(current_app).hit(str(key.id), key.rpm_limit)
    except LimiterUnavailable:
        raise GatewayError(503, "rate_limiter_unavailable",
                           "The rate limiter is unavailable, so requests are refused until it recovers. "
                           "Retry shortly.", "api_error", headers=retry_headers(5)) from None
    g.rate = result
    if not result.allowed:
        raise GatewayError(
            429, "rate_limit_exceeded",
            f"This API key exceeded its limit of {result.limit} requests per minute. "
            f"Retry after {max(math.ceil(result.retry_after), 1)} s.",
            "rate_limit_error", headers=retry_headers(result.retry_after))
    touch_last_used(key.id)


@bp.after_request
def add_headers(response):
    response.headers["X-Request-Id"] = g.get("request_id") or new_request_id()
    if g.get("provider"):
        response.headers["X-EtherGate-Provider"] = g.provider
    if g.get("rate") is not None:
        for name, value in rate_limit_headers(g.rate).items():
            response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    make_headers_safe(response.headers)
    if not g.get("logged") and not response.is_streamed:
        write_log(status_code=response.status_code)
    return response


@bp.errorhandler(GatewayError)
def gateway_error(error: GatewayError):
    request_id = g.get("request_id") or new_request_id()
    g.request_id = request_id
    if hasattr(g, "log"):
        g.log["error_code"] = error.code
        g.log["error_message"] = error.message
        if error.provider:
            g.log.setdefault("provider", error.provider)
    return error.response(request_id)


def write_log(status_code: int, **fields) -> None:
    """The one request-log row for this request (skipped if the billing transaction wrote it)."""
    if g.get("logged"):
        return
    g.logged = True
    values = dict(g.get("log") or {})
    values.update(fields)
    try:
        record_request(log_values(**base_log_fields(), status_code=status_code, **values))
    except Exception:  # noqa: BLE001 (a log row must never turn an answer into a 500)
        current_app.logger.exception("request log write failed")


def base_log_fields() -> dict:
    elapsed = int((time.perf_counter() - g.get("started", time.perf_counter())) * 1000)
    return dict(request_id=g.get("request_id") or new_request_id(), method=request.method,
                path=request.path[:255], latency_ms=elapsed,
                client_ip=(request.remote_addr or "")[:64] or None,
                user_agent=request.headers.get("User-Agent"))


def api_error_response(error: HTTPException):
    """Framework errors under /v1 (404, 405, 413, ...) in the OpenAI envelope."""
    codes = {404: ("not_found", "invalid_request_error", f"Unknown endpoint {request.method} {request.path}."),
             405: ("method_not_allowed", "invalid_request_error",
                   f"Method {request.method} is not allowed on {request.path}."),
             413: ("request_too_large", "invalid_request_error",
                   f"The request body is larger than {current_app.config['MAX_BODY_BYTES']} bytes.")}
    code, kind, message = codes.get(error.code, ("invalid_request_error", "invalid_request_error",
                                                 error.description or error.name))
    gateway = GatewayError(error.code or 400, code, message, kind)
    if not hasattr(g, "request_id"):
        sent = request.headers.get("X-Request-Id", "")
        g.request_id = sent if SANE_REQUEST_ID.fullmatch(sent) else new_request_id()
    response = gateway.response(g.request_id)
    response.headers["X-Request-Id"] = g.request_id
    response.headers["Cache-Control"] = "no-store"
    # An unknown path or method never reaches the blueprint's hooks, yet it is a /v1 request to log.
    write_log(status_code=gateway.status, error_code=code, error_message=message)
    return response


def read_body() -> bytes:
    if request.content_length is not None:
        return request.get_data(cache=False)  # werkzeug answers an oversized Content-Length with 413
    # werkzeug cuts a chunked body off at the limit without an error, so read one byte past it here.
    limit = current_app.config["MAX_BODY_BYTES"]
    stream, parts, size = request.environ["wsgi.input"], [], 0
    while size <= limit:
        part = stream.read(limit + 1 - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        raise RequestEntityTooLarge()
    return b"".join(parts)


def parse_json_body() -> object:
    """The request body as JSON, refused with a 400 when it is not JSON, not UTF-8, or nested too deeply."""
    raw = read_body()
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise too_deep(None) from None
    except ValueError as exc:
        detail = ": a number has more digits than any real value needs" if "integer string" in str(exc) else ""
        raise GatewayError(400, "invalid_json", f"The request body is not valid JSON{detail}.") from None
    deep = deepest_path(body)
    if deep is not None:
        raise too_deep(deep)
    if LONE_SURROGATE.search(raw):
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise GatewayError(400, "invalid_json", "The request body is not valid JSON: it contains an "
                                                    "unpaired UTF-16 surrogate escape (\\ud800-\\udfff).") from None
    return body


def deepest_path(body: object) -> str | None:
    """The JSON path of the first object or array nested more than MAX_JSON_DEPTH levels deep, or None."""
    # Each entry keeps (parent entry, key) rather than a path string: paths are built only for the answer.
    stack: list[tuple[object, int, tuple | None]] = [(body, 1, None)]
    while stack:
        value, depth, trail = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return _path(trail)
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        stack.extend((item, depth + 1, (trail, key)) for key, item in items if isinstance(item, (dict, list)))
    return None


def _path(trail: tuple | None) -> str:
    keys = []
    while trail is not None:
        trail, key = trail
        keys.append(key)
    path = ""
    for key in reversed(keys):
        path += f"[{key}]" if isinstance(key, int) else (f".{key}" if path else key)
        if len(path) > MAX_PARAM_CHARS:
            break
    return path[:MAX_PARAM_CHARS]


def too_deep(path: str | None) -> GatewayError:
    where = f"'{path}' is" if path else "the request body is"
    return invalid_request(f"Invalid request: {where} nested more than {MAX_JSON_DEPTH} levels deep; "
                           "flatten the structure.", path)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
