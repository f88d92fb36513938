"""Logs: JSON lines on stderr, one access line per request with its ID, never a key or message content."""
from __future__ import annotations

import io
import json
import logging
import secrets
import sys
import uuid
from datetime import datetime, timezone

import pytest
import requests

from ethergate.observability.logs import MASK, JsonFormatter, RedactingFilter, Redactor, configure_logging
from tests.conftest import PROVIDER_KEYS
from tests.ops.servers import directive

PLUS = "qwen/qwen-plus"


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    return parsed


def test_live_server_writes_one_json_access_line_per_request(live_server, live_factories):
    tenant = live_factories.tenant(credits="100.00", rpm_limit=1000)
    secret_words = f"confidential-{uuid.uuid4().hex}"
    wrong_key = "cr_" + secrets.token_urlsafe(30)[:40]
    auth = {"Authorization": f"Bearer {tenant.plaintext}"}
    url = live_server.base_url + "/chat/completions"

    plain = requests.post(url, headers={**auth, "X-Request-Id": "ops-plain-1"}, timeout=20,
                          json={"model": PLUS, "messages": directive(secret_words)})
    streamed = requests.post(url, headers=auth, stream=True, timeout=20,
                             json={"model": PLUS, "stream": True, "messages": directive(secret_words, chunks=4)})
    stream_body = b"".join(streamed.iter_content(None))
    unknown = requests.post(url, headers={"Authorization": f"Bearer {wrong_key}"}, timeout=20,
                            json={"model": PLUS, "messages": directive(secret_words)})
    models = requests.get(live_server.base_url + "/models?api_key=" + tenant.plaintext, headers=auth, timeout=20)
    page = requests.get(live_server.url + "/healthz", timeout=5)
    assert (plain.status_code, streamed.status_code, unknown.status_code, models.status_code) == (200, 200, 401, 200)
    assert page.status_code == 200

    live_server.stop()  # flushes everything the server wrote
    text = open(live_server.log_path, encoding="utf-8").read()
    lines = json_lines(text)
    access = {line["request_id"]: line for line in lines if line["logger"] == "ethergate.access"
              and "request_id" in line}

    line = access["ops-plain-1"]
    assert plain.headers["X-Request-Id"] == "ops-plain-1"
    assert {k: line[k] for k in ("method", "path", "status", "workspace_id", "key_prefix", "model", "provider")} == {
        "method": "POST", "path": "/v1/chat/completions", "status": 200, "workspace_id": tenant.workspace.id,
        "key_prefix": tenant.key.prefix, "model": PLUS, "provider": "qwen"}
    assert line["bytes"] == len(plain.content) and line["duration_ms"] > 0 and line["level"] == "info"
    assert line["ts"].endswith("Z") and isinstance(line["pid"], int)

    line = access[streamed.headers["X-Request-Id"]]
    assert (line["status"], line["model"], line["bytes"]) == (200, PLUS, len(stream_body))

    line = access[unknown.headers["X-Request-Id"]]
    assert line["status"] == 401 and "workspace_id" not in line and "key_prefix" not in line

    line = access[models.headers["X-Request-Id"]]
    assert line["path"] == "/v1/models", "the query string is never logged"

    health = [line for line in lines if line.get("path") == "/healthz"]
    assert health == [], "health checks are logged at debug only"

    for secret in (secret_words, tenant.plaintext, wrong_key, *PROVIDER_KEYS.values()):
        assert secret not in text


def test_log_level_comes_from_the_environment(live_server_factory):
    server = live_server_factory({"ETHERGATE_LOG_LEVEL": "debug"})
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
    server.stop()
    lines = json_lines(open(server.log_path, encoding="utf-8").read())
    assert [line["level"] for line in lines if line.get("path") == "/healthz"] == ["debug"]


@pytest.fixture
def captured(app):
    """The app's JSON logging into a buffer, undone afterwards."""
    from flask.logging import default_handler

    root = logging.getLogger()
    level, had_default = root.level, default_handler in app.logger.handlers
    buffer = io.StringIO()
    configure_logging(app, stream=buffer)
    yield buffer
    for handler in [h for h in root.handlers if getattr(h, "_ethergate", False)]:
        root.removeHandler(handler)
    root.setLevel(level)
    if had_default:
        app.logger.addHandler(default_handler)


def test_every_line_in_a_request_carries_its_request_id(app, captured):
    provider_key = "prov-key-" + uuid.uuid4().hex
    app.config["PROVIDER_KEYS"] = {"qwen": provider_key}
    leaked = "cr_" + secrets.token_urlsafe(30)[:40]

    @app.get("/_ops/boom")
    def boom():
        logging.getLogger("ethergate.somewhere").info("working on it")
        raise RuntimeError(f"upstream said no to {leaked} with {provider_key}")

    configure_logging(app, stream=captured)  # it reads the provider keys, as a server does at start

    response = app.test_client().get("/_ops/boom", headers={"X-Request-Id": "ops-boom-1"}, buffered=True)
    assert response.status_code == 500 and response.headers["X-Request-Id"] == "ops-boom-1"
    logging.getLogger("ethergate.somewhere").info("outside any request")

    text = captured.getvalue()
    lines = json_lines(text)
    working = next(line for line in lines if line["msg"] == "working on it")
    error = next(line for line in lines if line["level"] == "error")
    access = next(line for line in lines if line["logger"] == "ethergate.access")
    outside = next(line for line in lines if line["msg"] == "outside any request")
    assert working["request_id"] == error["request_id"] == access["request_id"] == "ops-boom-1"
    assert "request_id" not in outside
    assert "RuntimeError" in error["exc"] and MASK in error["exc"]
    assert leaked not in text and provider_key not in text
    assert access["status"] == 500 and access["level"] == "warning"


def test_a_request_without_an_id_gets_one(app, captured):
    response = app.test_client().get("/healthz", buffered=True)
    generated = response.headers["X-Request-Id"]
    assert generated.startswith("req_")
    assert json_lines(captured.getvalue()) == [], "healthz is logged at debug, below the default level"
    app.config["LOG_LEVEL"] = "debug"
    configure_logging(app, stream=captured)
    app.test_client().get("/healthz", headers={"X-Request-Id": "not a sane id!"}, buffered=True)
    line = json_lines(captured.getvalue())[-1]
    assert line["request_id"].startswith("req_") and line["path"] == "/healthz"


def test_redactor_masks_keys_and_configured_secrets_only():
    user_key = "cr_" + "Ab3_-" * 8
    redact = Redactor(["sk-test-deepseek", "fake", "s3cr3t-provider-value"])
    text = (f"user {user_key} provider sk-0123456789abcdef other sk-test-deepseek and s3cr3t-provider-value; "
            f"prefix cr_Ab3_- is fine, so are fake-upstream and sk-short")
    masked = redact(text)
    for secret in (user_key, "sk-0123456789abcdef", "sk-test-deepseek", "s3cr3t-provider-value"):
        assert secret not in masked
    assert masked.count(MASK) == 4
    assert "cr_Ab3_- is fine" in masked and "fake-upstream" in masked and "sk-short" in masked


def test_redacting_filter_covers_arguments_exceptions_and_extra_fields():
    user_key = "cr_" + "k" * 40
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(Redactor()))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"ethergate.test.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("key %s", user_key, extra={"header": f"Bearer {user_key}"})
        try:
            raise ValueError(f"bad key {user_key}")
        except ValueError:
            logger.exception("failed")
        logger.warning("broken %s %s", "only one argument")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert user_key not in text
    first, second, third = json_lines(text)
    assert first["msg"] == f"key {MASK}" and first["header"] == f"Bearer {MASK}"
    assert "ValueError: bad key " + MASK in second["exc"]
    assert "broken" in third["msg"]


def test_any_extra_field_makes_a_json_line():
    def line(**extra):
        record = logging.LogRecord("ethergate.x", logging.INFO, __file__, 1, "msg", (), None)
        record.__dict__.update(extra)
        return json.loads(JsonFormatter().format(record))

    assert line(model="通义千问", tokens=3)["model"] == "通义千问"
    assert line(huge=2 ** 70)["huge"] == 2 ** 70  # past what orjson writes
    assert line(counts={1: "one"})["counts"] == {"1": "one"}
    assert line(when=datetime(2026, 1, 2, tzinfo=timezone.utc))["when"] == "2026-01-02T00:00:00+00:00"
    assert line(thing=object())["thing"].startswith("<object object")


def test_configure_logging_is_idempotent(app, captured):
    configure_logging(app, stream=captured)
    configure_logging(app, stream=captured)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_ethergate", False)]
    assert len(ours) == 1
    logging.getLogger("ethergate.x").warning("once")
    assert len([line for line in json_lines(captured.getvalue()) if line["msg"] == "once"]) == 1


def test_stderr_handler_follows_sys_stderr(monkeypatch):
    from ethergate.observability.logs import StderrHandler
    handler = StderrHandler()
    replaced = io.StringIO()
    monkeypatch.setattr(sys, "stderr", replaced)
    assert handler.stream is replaced
