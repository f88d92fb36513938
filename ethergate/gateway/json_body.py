"""The /v1 request body as JSON: size-limited, UTF-8, finite, and nested no deeper than any real request needs."""
from __future__ import annotations

import json
import re

import orjson
from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import GatewayError, invalid_request

# Only bodies with a surrogate escape can decode to text that UTF-8 cannot encode.
LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
# Deep enough for any real tool schema; shallow enough that nothing downstream (json.dumps, estimates) recurses far.
MAX_JSON_DEPTH = 64
MAX_PARAM_CHARS = 200
# 20 digits in a row may be an integer beyond 64 bits (or just a long string or fraction: read slowly, still right).
LONG_DIGITS = re.compile(rb"\d{20}")


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


def dump_json(value: object) -> bytes:
    """Compact UTF-8 JSON, as json.dumps(ensure_ascii=False, separators=(",", ":")) writes it, ~10x faster.

    orjson refuses what the standard library writes anyway: integers beyond 64 bits, non-string keys.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def load_json(raw: bytes | str) -> object:
    """A provider's JSON answer, read as the standard library reads it: NaN, which orjson refuses, and integers
    beyond 64 bits, which orjson turns into floats, go to the standard library; invalid JSON raises ValueError."""
    if LONG_DIGITS.search(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")):
        return json.loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
