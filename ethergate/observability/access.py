"""One access line per request, written when the response body is done (streams included).

A WSGI wrapper is the only place that sees a stream's real duration and size: Flask's after_request
runs before the first byte of a stream. The request's details (ID, workspace, key prefix, model,
provider) are copied from flask.g into the WSGI environ by an after_request hook, since g is gone by
the time the body is closed.
"""
from __future__ import annotations

import logging
import time

from flask import Flask, g, request

from .request_ids import request_id_from

log = logging.getLogger("ethergate.access")
ENVIRON_KEY = "ethergate.access"
# Load balancers and scrapers call these every few seconds; at info they would drown the real traffic.
QUIET_PATHS = frozenset({"/healthz", "/metrics"})


def init_app(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.after_request(remember_request)
    app.wsgi_app = AccessLog(app.wsgi_app)


def assign_request_id() -> None:
    """Every request gets its ID here, once; /v1 requests keep it in their RequestCharge."""
    if g.get("request_id") is None:
        g.request_id = request_id_from(request.headers.get("X-Request-Id"))


def remember_request(response):
    request_id = g.get("request_id")
    if request_id and "X-Request-Id" not in response.headers:
        response.headers["X-Request-Id"] = request_id
    charge = g.get("charge")  # a /v1 request's RequestCharge (gateway), read without importing the gateway
    key = getattr(charge, "key", None)
    request.environ[ENVIRON_KEY] = {
        "request_id": request_id,
        "workspace_id": getattr(key, "workspace_id", None),
        "key_prefix": getattr(key, "prefix", None),
        "model": getattr(charge, "model_id", None),
        "provider": getattr(charge, "provider", None),
    }
    return response


class AccessLog:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        state = {"status": None}

        def start(status, headers, exc_info=None):
            state["status"] = status
            return start_response(status, headers, exc_info)

        try:
            body = self.wsgi_app(environ, start)
        except BaseException:
            state["status"] = state["status"] or "500"
            write_access_line(environ, state["status"], started, 0)
            raise
        return LoggedBody(body, environ, state, started)


class LoggedBody:
    """The app's response iterable, counting bytes and logging the line when the server closes it."""

    def __init__(self, body, environ, state, started):
        self.body, self.environ, self.state, self.started = body, environ, state, started
        self.sent = 0

    def __iter__(self):
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self):
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            write_access_line(self.environ, self.state["status"], self.started, self.sent)


def write_access_line(environ, status, started, sent: int) -> None:
    try:
        code = int(str(status or "0").split(" ", 1)[0])
        path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))[:512]
        fields = {"method": environ.get("REQUEST_METHOD"), "path": path, "status": code,
                  "duration_ms": round((time.perf_counter() - started) * 1000, 1), "bytes": sent}
        fields.update({k: v for k, v in (environ.get(ENVIRON_KEY) or {}).items() if v is not None})
        level = logging.DEBUG if path in QUIET_PATHS else logging.WARNING if code >= 500 else logging.INFO
        log.log(level, "%s %s %s", fields["method"], path, code, extra=fields)
    except Exception:  # noqa: BLE001 (an access line must never break a response)
        pass
