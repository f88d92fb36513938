"""Structured logs: one JSON object per line on stderr, each line carrying its request's ID.

The gateway never logs keys or message content on purpose; the redaction filter is defence in depth
for the day a library, an exception message or a careless log call includes one anyway.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback

import orjson
from flask import Flask, g, has_request_context

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
MASK = "[REDACTED]"
# User keys (cr_ + 40 URL-safe characters; the 8-character display prefix stays readable) and the
# sk- shape most providers use.
KEY_PATTERNS = (r"cr_[A-Za-z0-9_-]{8,}", r"sk-[A-Za-z0-9]{8,}")
KEY_MARKERS = ("cr_", "sk-")  # the literal start of each pattern above
# Shorter configured values are placeholders such as "fake"; masking them would mangle ordinary words.
MIN_SECRET_LENGTH = 8
STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class Redactor:
    """Masks key-shaped strings and the given secret values in text."""

    def __init__(self, secrets=()):
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self.pattern = re.compile("|".join([re.escape(v) for v in values] + list(KEY_PATTERNS)))
        # Nothing can match without one of these substrings; checking them is far cheaper than the regex,
        # and almost every line (each access line is redacted field by field) has none.
        self.markers = tuple(values) + KEY_MARKERS

    def __call__(self, text: str) -> str:
        for marker in self.markers:
            if marker in text:
                return self.pattern.sub(MASK, text)
        return text


def configured_secrets(config) -> list[str]:
    """Server-side secrets that must never reach a log line."""
    secrets = [v for v in (config.get("PROVIDER_KEYS") or {}).values() if v]
    secrets += [config.get(name) for name in ("SECRET_KEY", "METRICS_TOKEN", "STRIPE_SECRET_KEY",
                                              "STRIPE_WEBHOOK_SECRET") if config.get(name)]
    return secrets


class RequestIdFilter(logging.Filter):
    """Stamps each record with the ID of the request it was logged in, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, exception text and extra string fields with secrets masked."""

    def __init__(self, redact: Redactor):
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg, record.args = self.redact(record.getMessage()), None
        except Exception:  # noqa: BLE001 (a malformed log call must still be logged, never raise)
            record.msg, record.args = self.redact(f"{record.msg!r} {record.args!r}"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """ts, level, logger, msg, pid, request_id, then any extra fields; exceptions under "exc"."""

    def __init__(self, redact: Redactor | None = None):
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        for name, value in record.__dict__.items():
            if name not in STANDARD_ATTRIBUTES and not name.startswith("_") and value is not None:
                payload[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        try:  # orjson: about a fifth of json's cost, which every access line pays
            line = orjson.dumps(payload, default=str).decode()
        except TypeError:  # what orjson refuses (an integer past 64 bits, a key that is not a string)
            line = json.dumps(payload, default=str)
        return self.redact(line) if self.redact else line


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time, like logging's last resort handler."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_logging(app: Flask, stream=None) -> logging.Handler:
    """Route every logger through one JSON handler at ETHERGATE_LOG_LEVEL. Idempotent per process.

    Called by the servers (wsgi.py, the gunicorn worker hook), not by create_app: CLI commands and
    in-process tests keep Python's plain logging.
    """
    from flask.logging import default_handler

    redact = Redactor(configured_secrets(app.config))
    handler = StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler._ethergate = True
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter(redact))
    handler.setFormatter(JsonFormatter(redact))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_ethergate", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS[app.config.get("LOG_LEVEL") or "info"])
    # The JSON lines carry none of these record fields, and gathering them is most of a record's cost: under
    # gevent, threading.current_thread() builds a dummy Thread for every new request greenlet.
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no caller lookup (logging's documented optimisation)
    logging.captureWarnings(True)  # Python's warnings would otherwise be the only plain-text lines
    # Flask's own stderr handler would print every app.logger line a second time, unformatted.
    app.logger.removeHandler(default_handler)
    return handler
