"""/v1 in-process: the app under Flask's test client, its providers pointed at the fake upstream on a real
socket, a funded tenant, and the checks every answer must pass (envelope, headers, holds, balances).

Test modules import the fixtures they use, as with tests/gateway/e2e.py.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

import pytest

from tests.conftest import PROVIDER_KEYS, app_config

MAX_BODY_BYTES = 65536
SAFE_HEADER = re.compile(r"[\x20-\x7e]*")
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
ENVELOPE = {"message", "type", "param", "code"}
EXCEPTION_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]*)*(?:Error|Exception)\b")  # ProtocolError, ...
# The README's error table: every (status, code) the gateway may answer with.
DOCUMENTED = {
    400: {"invalid_request_error", "invalid_json"}, 401: {"invalid_api_key"},
    402: {"insufficient_credits", "key_spend_cap_exceeded"}, 403: {"model_not_allowed"},
    404: {"model_not_found", "not_found"}, 405: {"method_not_allowed"}, 413: {"request_too_large"},
    429: {"rate_limit_exceeded", "tokens_rate_limit_exceeded", "provider_rate_limited"},
    502: {"provider_request_failed"}, 503: {"model_not_ready", "rate_limiter_unavailable"},
}


@pytest.fixture
def gateway_app(database_url, fake_upstream):
    """The app with no context pushed: each test-client request then gets its own, with a fresh `g`, as a
    server gives it (a request inside an already pushed app context would share that context's `g`)."""
    from ethergate import create_app
    from ethergate.extensions import db

    fake_upstream.clear()
    config = app_config(database_url, PROVIDER_KEYS=dict(PROVIDER_KEYS), MAX_BODY_BYTES=MAX_BODY_BYTES,
                        PROVIDER_BASE_URLS={name: fake_upstream.base_url(name) for name in PROVIDER_KEYS})
    app = create_app(config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    fake_upstream.clear()


@dataclass
class Funded:
    workspace_id: int
    plaintext: str
    last_balance: int | None = None


@pytest.fixture
def funded(gateway_app) -> Funded:
    """A workspace with ample credits and a key whose request limit no test reaches."""
    from tests.factories import Factories
    with gateway_app.app_context():
        tenant = Factories(gateway_app).tenant(credits="1000000.00", rpm_limit=10 ** 6)
        return Funded(tenant.workspace.id, tenant.plaintext)


class TracebackCatcher(logging.Handler):
    """Every log record written with a traceback, or at ERROR and above."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)

    def take(self) -> list[str]:
        taken, self.records = self.records, []
        return [f"{r.name}: {r.getMessage()}" for r in taken]


@pytest.fixture
def tracebacks():
    catcher = TracebackCatcher()
    root = logging.getLogger()
    root.addHandler(catcher)
    yield catcher
    root.removeHandler(catcher)


def account(app, workspace_id: int) -> tuple[int, int, int, int]:
    """(balance, held, sum of pending holds, sum of entries), read in one statement and one transaction."""
    from sqlalchemy import and_, func, select

    from ethergate.billing.ledger import accounts, entries, holds
    from ethergate.extensions import db

    pending = select(func.coalesce(func.sum(holds.c.amount_micro), 0)).where(
        and_(holds.c.workspace_id == workspace_id, holds.c.status == "pending")).scalar_subquery()
    summed = select(func.coalesce(func.sum(entries.c.amount_micro), 0)).where(
        entries.c.workspace_id == workspace_id).scalar_subquery()
    query = select(accounts.c.balance_micro, accounts.c.held_micro, pending, summed).where(
        accounts.c.workspace_id == workspace_id)
    with app.app_context(), db.engine.connect() as conn:
        return tuple(int(value) for value in conn.execute(query).one())


def stream_events(text: str) -> list[dict]:
    """The JSON payloads of an SSE body, without [DONE]; comments are skipped."""
    events = []
    for block in text.split("\n\n"):
        data = "\n".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
        if data and data != "[DONE]":
            events.append(json.loads(data))
    return events


def check_headers(response, sent_request_id: str | None) -> str:
    """Every header is printable ASCII; X-Request-Id is present, sane, and the client's own if that was sane."""
    for name, value in response.headers.items():
        assert SAFE_HEADER.fullmatch(value), (name, value)
    request_id = response.headers.get("X-Request-Id")
    assert request_id and SANE_REQUEST_ID.fullmatch(request_id), response.headers
    if sent_request_id is not None and SANE_REQUEST_ID.fullmatch(sent_request_id):
        assert request_id == sent_request_id
    elif sent_request_id is not None:
        assert request_id.startswith("req_")
    return request_id


def check_error(error: dict, request_id: str, ours_only: bool = False) -> None:
    """The documented envelope; `ours_only` for messages that quote no client text, which never name an
    exception class."""
    assert ENVELOPE <= set(error), error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and isinstance(error["code"], str), error
    assert error["param"] is None or isinstance(error["param"], str), error
    assert error["request_id"] == request_id, error
    assert "Traceback" not in error["message"], error
    assert not (ours_only and EXCEPTION_NAME.search(error["message"])), error


def anthropic_error(payload: dict) -> dict:
    """Anthropic's envelope ({"type": "error", "error": {...}, "request_id"}) as the fields check_error reads."""
    assert set(payload) <= {"type", "error", "request_id"} and payload["type"] == "error", payload
    error = payload["error"]
    assert {"type", "message", "code"} <= set(error), payload
    return {**error, "param": error.get("param"), "request_id": payload.get("request_id")}


def check_answer(response, sent_request_id: str | None, path: str = "/v1/chat/completions") -> dict:
    """One /v1 answer, read whole, checked against the documented contract; returns what was seen.

    Under /v1/messages every error is in Anthropic's envelope; everywhere else in OpenAI's."""
    anthropic = path.split("?")[0].rstrip("/") == "/v1/messages" or path.startswith("/v1/messages/")
    body = response.get_data()
    request_id = check_headers(response, sent_request_id)
    status = response.status_code
    assert status < 500 or status in (502, 503), (status, body[:500])
    seen = {"status": status, "request_id": request_id, "events": [], "stream_error": None}
    if status != 200:
        assert response.mimetype == "application/json", (status, response.mimetype, body[:300])
        payload = json.loads(body)
        if anthropic:
            error = anthropic_error(payload)
        else:
            assert set(payload) == {"error"}, payload
            error = payload["error"]
        check_error(error, request_id, ours_only=status >= 500)
        assert error["code"] in DOCUMENTED.get(status, ()), (status, payload)
        seen["error"] = error
    elif response.mimetype == "text/event-stream":
        seen["events"] = stream_events(body.decode("utf-8"))
        for event in seen["events"]:
            if event.get("type") == "error" and anthropic:
                seen["stream_error"] = anthropic_error(event)
                check_error(seen["stream_error"], request_id, ours_only=True)
            elif event.get("type") == "error":  # Responses: an error event, then response.failed
                assert event["message"] and event["code"], event
                seen["stream_error"] = event
            elif "error" in event and "type" not in event:
                check_error(event["error"], request_id, ours_only=True)
                seen["stream_error"] = event["error"]
    else:
        assert response.mimetype == "application/json"
        seen["json"] = json.loads(body)
    return seen
