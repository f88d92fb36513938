"""Shared pieces of the end-to-end gateway tests: server settings, request-log lookups, the ledger invariant.

Test modules import what they use; importing `ledger_invariant` makes it autouse there, so every test
ends by checking that each workspace's balance equals the sum of its entries and no hold is left pending.
"""
from __future__ import annotations

import json
import time

import pytest
import requests
from sqlalchemy import select

from ethergate.accounts.models import Workspace
from ethergate.billing import ledger
from ethergate.extensions import db
from ethergate.usage.models import RequestLog

ENVELOPE_KEYS = {"message", "type", "code"}


def with_env(**env):
    """Run the test against a live server started with these extra environment variables."""
    name = ",".join(f"{k.removeprefix('ETHERGATE_').lower()}={v}" for k, v in env.items())
    return pytest.mark.parametrize("live_server", [env], indirect=True, ids=[name])


@pytest.fixture
def live_server(request, module_servers):
    """The module's shared server (modules marked shared_live_server), or one started with `with_env`'s settings."""
    env = getattr(request, "param", None)
    if env is None and module_servers is not None:
        return module_servers.default_server()
    return request.getfixturevalue("live_server_factory")(extra_env=env)


@pytest.fixture(autouse=True)
def ledger_invariant(live_app):
    yield
    # Streams settle after their last byte, so give a just-closed one a moment to resolve its hold.
    wait_for(lambda: all(ledger.account_state(w)[1] == 0 for w in workspace_ids()), timeout=5)
    for workspace_id in fresh(workspace_ids):
        balance, held = fresh(lambda: ledger.account_state(workspace_id))
        assert held == 0 and fresh(lambda: ledger.pending_held(workspace_id)) == 0, f"workspace {workspace_id}"
        assert balance == fresh(lambda: ledger.recompute_balance(workspace_id)), f"workspace {workspace_id}"


def fresh(read):
    """Run a read on a fresh transaction and end it at once, so it sees what the live server committed."""
    db.session.rollback()
    try:
        return read()
    finally:
        db.session.rollback()


def workspace_ids() -> list[int]:
    return list(db.session.scalars(select(Workspace.id)))


def wait_for(predicate, timeout: float = 3.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = fresh(predicate)
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def log_rows(**filters) -> list:
    """Request-log rows as plain rows, which stay readable after the transaction ends."""
    table = RequestLog.__table__
    query = select(table).filter_by(**filters).order_by(table.c.id)
    return fresh(lambda: db.session.execute(query).all())


def log_row(request_id: str, timeout: float = 3.0):
    """The one request-log row of a request; streams write theirs when they settle, so wait for it."""
    rows = wait_for(lambda: log_rows(request_id=request_id), timeout=timeout)
    assert len(rows) == 1, f"expected one log row for {request_id}, got {len(rows)}"
    return rows[0]


def tenant_ids(tenant) -> tuple[int, int]:
    """(workspace id, key id), read once so later asserts never reopen a transaction."""
    return fresh(lambda: (tenant.workspace.id, tenant.key.id))


def call(server, key: str | None, body=None, *, path: str = "/chat/completions", method: str = "POST",
         headers: dict | None = None, data: bytes | None = None, timeout: float = 20) -> requests.Response:
    """A raw HTTP request to the live gateway; `key=None` sends no Authorization header."""
    sent = dict(headers or {})
    if key is not None:
        sent.setdefault("Authorization", f"Bearer {key}")
    kwargs = {"data": data} if data is not None else ({"json": body} if body is not None else {})
    return requests.request(method, server.base_url + path, headers=sent, timeout=timeout, **kwargs)


def assert_envelope(response: requests.Response, status: int, code: str, *, param: str | None = None,
                    provider: str | None = None) -> dict:
    """An OpenAI-style JSON error whose body names the same request ID as the X-Request-Id header."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert ENVELOPE_KEYS <= set(error) and error["code"] == code, error
    assert error["message"] and "<html" not in response.text.lower()
    assert error["request_id"] == response.headers["X-Request-Id"]
    if param is not None:
        assert error["param"] == param, error
    if provider is not None:
        assert error["provider"] == provider and response.headers["X-EtherGate-Provider"] == provider
    return error


def say(prompt: str, **behavior) -> list[dict]:
    """Messages whose last user turn carries a fake-upstream directive."""
    directive = f" [[fake:{json.dumps(behavior)}]]" if behavior else ""
    return [{"role": "user", "content": prompt + directive}]


def upstream_models(fake) -> list[str]:
    return [r["model"] for r in fake.requests() if r["path"].endswith("/chat/completions")]
