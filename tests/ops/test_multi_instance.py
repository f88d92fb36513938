"""Two gateway instances (gunicorn, 2 gevent workers each) on one PostgreSQL and one Redis, under load.

Deployed as an operator would: migrate a fresh database and sync the catalog first, then start the
servers. Checks that hold across instances: the per-key rate limit is global, no workspace overspends,
every answered request has exactly one log row under its ID, metrics add up per instance, and stopping
one instance mid-load (SIGTERM to its master while streams run) loses no ledger entry.
"""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from sqlalchemy import func, select

from ethergate.billing import ledger
from ethergate.billing.models import Hold, LedgerEntry
from ethergate.extensions import db
from ethergate.usage.models import RequestLog
from tests.conftest import migrate_database
from tests.factories import Factories
from tests.ops.conftest import bound_app
from tests.ops.servers import GunicornServer, directive, fresh, read_stream, scrape, total, wait_until

PLUS = "qwen/qwen-plus"
THREADS = 40
RPM = 25
FUNDED_HOLDS = 60
BUDGET_REQUESTS = 100
GRACE = 20
HOLD_TTL = 15


@pytest.fixture
def cluster(engine, pg_server, redis_server, fake_upstream, tmp_path):
    database_url = pg_server.create_database(f"eg_multi_{uuid.uuid4().hex[:10]}")
    migrate_database(database_url)  # `flask db upgrade` and `catalog sync`, as at deploy
    # A database number of its own, so no other test's windows count against these keys.
    redis_url = redis_server.url.rsplit("/", 1)[0] + "/7"
    redis.Redis.from_url(redis_url).flushdb()
    env = {"ETHERGATE_REDIS_URL": redis_url, "ETHERGATE_SHUTDOWN_GRACE_SECONDS": str(GRACE),
           "ETHERGATE_HOLD_TTL_SECONDS": str(HOLD_TTL), "ETHERGATE_SWEEP_INTERVAL_SECONDS": "1"}
    servers = [GunicornServer(database_url, fake_upstream, env, tmp_path / f"instance-{n}.log", workers=2)
               for n in range(2)]
    threads = [threading.Thread(target=server.start) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        for server in servers:
            assert server.url and server.process.poll() is None, server.log_tail()
        with bound_app(database_url) as app:
            yield servers, Factories(app)
    finally:
        for server in servers:
            server.stop()


class Load:
    """Drives requests through both instances from a thread pool; one requests.Session per thread."""

    def __init__(self, servers):
        self.servers = servers
        self.local = threading.local()
        self.lock = threading.Lock()
        self.answered: list[dict] = []
        self.unanswered: list[str] = []  # IDs of attempts that never got a response (connection refused)

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def send(self, n: int, key: str, body: dict) -> dict:
        """POST to instance n % 2, failing over to the other instance like a load balancer would."""
        order = [self.servers[n % 2], self.servers[(n + 1) % 2]]
        for server in order:
            request_id = f"ops-{n}-{uuid.uuid4().hex[:12]}"
            try:
                response = self.session().post(
                    server.base_url + "/chat/completions", json=body, stream=bool(body.get("stream")),
                    timeout=30, headers={"Authorization": f"Bearer {key}", "X-Request-Id": request_id})
                result = {"request_id": request_id, "status": response.status_code,
                          "echoed": response.headers.get("X-Request-Id"), "server": server.port}
                if body.get("stream") and response.status_code == 200:
                    result.update(read_stream(response))
                else:
                    result["error"] = (response.json().get("error") or {}) if response.status_code != 200 else None
            except requests.ConnectionError:
                with self.lock:
                    self.unanswered.append(request_id)
                continue
            with self.lock:
                self.answered.append(result)
            return result
        raise AssertionError(f"request {n}: no instance answered")

    def run(self, key: str, body: dict, count: int, first: int = 0) -> list[dict]:
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(lambda n: self.send(n, key, body), range(first, first + count)))


def chat(text: str, **behavior) -> dict:
    return {"model": PLUS, "messages": directive(text, **behavior)}


def hold_amount(request_id: str) -> int:
    return fresh(lambda: db.session.scalars(select(Hold.amount_micro).filter_by(request_id=request_id)).one())


def usage_entries(request_id: str) -> list[LedgerEntry]:
    return fresh(lambda: list(db.session.scalars(select(LedgerEntry).filter_by(request_id=request_id,
                                                                                 kind="usage"))))


def reconcile(workspace_id: int) -> int:
    """Asserts the ledger invariants for one workspace and returns its balance."""
    balance, held = fresh(lambda: ledger.account_state(workspace_id))
    assert held == 0 and fresh(lambda: ledger.pending_held(workspace_id)) == 0, f"workspace {workspace_id} holds"
    assert balance == fresh(lambda: ledger.recompute_balance(workspace_id)), f"workspace {workspace_id} drifted"
    lowest = fresh(lambda: db.session.scalar(select(func.min(LedgerEntry.balance_after_micro))
                                             .where(LedgerEntry.workspace_id == workspace_id)))
    assert balance >= 0 and lowest >= 0, f"workspace {workspace_id} went below zero"
    return balance


@pytest.mark.postgresql_only  # several instances share one database only on PostgreSQL
def test_two_instances_share_limits_credits_and_logs(cluster):
    started = time.monotonic()
    servers, factories = cluster
    load = Load(servers)

    # (a) The rate limit is global: exactly RPM successes across both instances.
    limited = factories.tenant(credits="100.00", rpm_limit=RPM)
    results = load.run(limited.plaintext, chat("limited"), 2 * RPM)
    statuses = sorted(r["status"] for r in results)
    assert statuses == [200] * RPM + [429] * RPM, statuses
    assert {r["error"]["code"] for r in results if r["status"] == 429} == {"rate_limit_exceeded"}
    assert {r["server"] for r in results if r["status"] == 200} == {s.port for s in servers}

    # (b) No workspace overspends: funded for FUNDED_HOLDS of BUDGET_REQUESTS concurrent requests.
    usage = {"prompt_tokens": 5, "completion_tokens": 2000}  # close to the hold, so credits run out
    budget_body = {**chat("budget", delay_ms=300, usage=usage), "max_tokens": 2000}
    probe = factories.tenant(credits="100.00", rpm_limit=10_000)
    probed = load.send(0, probe.plaintext, budget_body)
    assert probed["status"] == 200
    hold = hold_amount(probed["request_id"])
    funded = factories.tenant(credits=None, rpm_limit=10_000)
    ledger.post_entry(funded.workspace.id, FUNDED_HOLDS * hold, "grant", note="multi-instance test")
    results = load.run(funded.plaintext, budget_body, BUDGET_REQUESTS)
    paid = [r for r in results if r["status"] == 200]
    refused = [r for r in results if r["status"] != 200]
    assert FUNDED_HOLDS <= len(paid) < BUDGET_REQUESTS
    assert {(r["status"], r["error"]["code"]) for r in refused} == {(402, "insufficient_credits")}
    balance = reconcile(funded.workspace.id)
    debited = -sum(e.amount_micro for r in paid for e in usage_entries(r["request_id"]))
    assert FUNDED_HOLDS * hold - balance == debited > 0
    captured = fresh(lambda: db.session.scalar(select(func.sum(Hold.captured_micro)).where(
        Hold.workspace_id == funded.workspace.id, Hold.status == "captured")))
    logged = fresh(lambda: db.session.scalar(select(func.sum(RequestLog.cost_micro)).where(
        RequestLog.workspace_id == funded.workspace.id)))
    assert captured == logged == debited
    assert all(len(usage_entries(r["request_id"])) == 0 for r in refused)

    # Metrics add up over each instance's two workers: every answered /v1 request is counted once.
    for server in servers:
        answered_here = sum(1 for r in load.answered if r["server"] == server.port)
        assert total(scrape(server.url, headers={"Connection": "close"}), "ethergate_requests_total") \
            == answered_here

    # (d) Stop one instance while streams are in flight: every 200 is complete and billed.
    streamer = factories.tenant(credits="100.00", rpm_limit=10_000)
    stream_body = {**chat("stream", chunks=8, gap_ms=250), "stream": True, "stream_options": {"include_usage": True}}
    stopping = servers[0]
    stopper = threading.Timer(0.8, stopping.terminate)
    stopper.start()
    with ThreadPoolExecutor(THREADS) as pool:
        # The first wave is in flight when SIGTERM lands; the second arrives while the instance drains.
        first = [pool.submit(load.send, n, streamer.plaintext, stream_body) for n in range(30)]
        time.sleep(1.2)
        second = [pool.submit(load.send, n, streamer.plaintext, stream_body) for n in range(30, 50)]
        streams = [f.result(timeout=60) for f in first + second]
    stopper.join()
    assert stopping.wait(timeout=GRACE + 5) == 0, stopping.log_tail()
    assert all(r["status"] == 200 for r in streams), [r for r in streams if r["status"] != 200][:3]
    assert all(r["done"] and r["error"] is None and r["text"] for r in streams), "a stream was cut"
    assert any(r["server"] == stopping.port for r in streams), "some streams were in flight on the stopped instance"

    # Streams settle just after their last byte; anything left pending is released by the sweep.
    workspaces = [limited.workspace.id, probe.workspace.id, funded.workspace.id, streamer.workspace.id]
    assert wait_until(lambda: all(fresh(lambda: ledger.pending_held(w)) == 0 for w in workspaces),
                      timeout=HOLD_TTL + 5), "holds left pending"
    for workspace_id in workspaces:
        reconcile(workspace_id)
    for result in streams:
        entries = usage_entries(result["request_id"])
        assert len(entries) == 1 and entries[0].amount_micro < 0, result["request_id"]

    # (c) Every answered request is traceable: its ID came back and has exactly one log row.
    counts = dict(fresh(lambda: db.session.execute(
        select(RequestLog.request_id, func.count()).group_by(RequestLog.request_id)).all()))
    for result in load.answered:
        assert result["echoed"] == result["request_id"]
        assert counts.get(result["request_id"]) == 1, result["request_id"]
    for request_id in load.unanswered:
        assert counts.get(request_id, 0) == 0, f"{request_id} never got an answer yet was logged"
    assert len(counts) == len(load.answered)

    assert time.monotonic() - started < 90
