"""SIGTERM: stop accepting at once, let in-flight streams finish within ETHERGATE_SHUTDOWN_GRACE_SECONDS.

Both servers an operator may run: gunicorn (`gunicorn -c gunicorn.conf.py wsgi:app`, SIGTERM to the
master) and `python wsgi.py`.
"""
from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from ethergate.billing import ledger
from ethergate.billing.models import Hold, LedgerEntry
from ethergate.extensions import db
from ethergate.timeutil import utcnow
from ethergate.usage.models import RequestLog
from tests.ops.servers import directive, fresh, read_stream, wait_until

PLUS = "qwen/qwen-plus"


@pytest.fixture
def start_server(gunicorn_factory, live_server_factory):
    def start(kind: str, env: dict):
        if kind == "gunicorn":
            return gunicorn_factory(env, workers=1)
        return live_server_factory(env)
    return start


def open_stream(server, key: str, request_id: str, **behavior) -> requests.Response:
    response = requests.post(server.base_url + "/chat/completions", stream=True, timeout=30,
                             headers={"Authorization": f"Bearer {key}", "X-Request-Id": request_id},
                             json={"model": PLUS, "stream": True, "stream_options": {"include_usage": True},
                                   "messages": directive("a slow answer", **behavior)})
    assert response.status_code == 200
    return response


def refused(server) -> bool:
    try:
        requests.get(server.url + "/healthz", timeout=0.5, headers={"Connection": "close"})
    except requests.ConnectionError:
        return True
    return False


def workspace_reconciles(workspace_id: int) -> None:
    balance, held = fresh(lambda: ledger.account_state(workspace_id))
    assert held == 0 and fresh(lambda: ledger.pending_held(workspace_id)) == 0
    assert balance == fresh(lambda: ledger.recompute_balance(workspace_id)) and balance >= 0


@pytest.mark.parametrize("kind", ["gunicorn", "wsgi"])
def test_sigterm_lets_an_in_flight_stream_finish(kind, start_server, factories_for):
    server = start_server(kind, {"ETHERGATE_SHUTDOWN_GRACE_SECONDS": "20"})
    tenant = factories_for(server).tenant(credits="100.00", rpm_limit=1000)
    response = open_stream(server, tenant.plaintext, f"ops-drain-{kind}", chunks=8, gap_ms=400)
    lines = response.iter_lines()
    assert next(lines)  # the stream has started

    result = {}

    def read_rest():
        result.update(read_stream(response, lines))
        result["finished"] = time.monotonic()

    reader = threading.Thread(target=read_rest)
    reader.start()
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert wait_until(lambda: refused(server), timeout=5, interval=0.05), "the listener stayed open"
    refused_at = time.monotonic()
    reader.join(timeout=20)

    assert result.get("done") and result["error"] is None, result
    assert result["text"].strip(), "the whole answer arrived"
    assert refused_at < result["finished"], "new connections were refused while the stream was still running"
    assert server.process.wait(timeout=20) == 0
    assert time.monotonic() - signalled < 20

    row = fresh(lambda: db.session.scalars(select(RequestLog).filter_by(request_id=f"ops-drain-{kind}")).one())
    assert row.status_code == 200 and row.error_code is None and row.cost_micro > 0 and not row.cancelled
    entry = fresh(lambda: db.session.scalars(select(LedgerEntry).filter_by(request_id=row.request_id)).one())
    assert entry.kind == "usage" and -entry.amount_micro == row.cost_micro
    workspace_reconciles(tenant.workspace.id)


@pytest.mark.parametrize("kind", ["gunicorn", "wsgi"])
def test_the_grace_period_bounds_a_stream_that_runs_too_long(kind, start_server, factories_for):
    grace = 2
    server = start_server(kind, {"ETHERGATE_SHUTDOWN_GRACE_SECONDS": str(grace), "ETHERGATE_HOLD_TTL_SECONDS": "5"})
    tenant = factories_for(server).tenant(credits="100.00", rpm_limit=1000)
    response = open_stream(server, tenant.plaintext, f"ops-cut-{kind}", chunks=40, gap_ms=250)
    lines = response.iter_lines()
    assert next(lines)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=grace + 8)
    assert time.monotonic() - signalled < grace + 4

    try:
        result = read_stream(response, lines)
    except requests.RequestException:
        result = {"done": False}
    assert not result["done"], "a 10 s stream cannot finish within a 2 s grace period"

    # Whatever the killed process left pending expires and is released by any server's sweep.
    hold = fresh(lambda: db.session.scalars(select(Hold).filter_by(request_id=f"ops-cut-{kind}")).one())
    if hold.status == "pending":
        wait = (hold.expires_at - utcnow() + timedelta(milliseconds=200)).total_seconds()
        time.sleep(max(wait, 0))
        assert fresh(ledger.sweep_expired_holds) == 1
    workspace_reconciles(tenant.workspace.id)
