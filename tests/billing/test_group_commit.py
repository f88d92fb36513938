"""Group commit: requests' holds and captures that are ready together share one COMMIT, and each request
still gets exactly its own outcome: its result, or its own error with only its own writes undone.

The in-process tests run the batches in gevent greenlets, each with its own app context as a request has;
the last one counts the server's batches under concurrent requests over HTTP.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager

import gevent
import pytest
import requests
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from ethergate import group_commit
from ethergate.billing import ledger
from ethergate.billing.models import Hold
from ethergate.extensions import db
from tests.ops.servers import scrape, total

from .e2e import MODEL, assert_books_balance, assert_holds_resolved_once, say

pytestmark = pytest.mark.one_engine  # batching is SQLite's; PostgreSQL writes one statement per request


@pytest.fixture
def batching(engine, monkeypatch):
    if engine != "sqlite":
        pytest.skip("group commit batches SQLite's writes only")
    monkeypatch.setattr(group_commit, "_GEVENT", [True])  # as under the server's monkey-patching
    return group_commit.batches_for(db.engine)


def together(app, calls):
    """Runs each call in its own greenlet and app context, all ready in the same turn of the loop."""
    def one(call):
        with app.app_context():
            try:
                return call()
            except Exception as error:  # noqa: BLE001 (returned for the test to look at)
                return error
            finally:
                db.session.remove()

    jobs = [gevent.spawn(one, call) for call in calls]
    gevent.joinall(jobs, timeout=30, raise_error=True)
    assert all(job.ready() for job in jobs), "a caller never came back"
    return [job.value for job in jobs]


def pending(workspace_id):
    return db.session.scalar(select(func.count()).select_from(Hold).where(
        Hold.workspace_id == workspace_id, Hold.status == "pending"))


def test_holds_and_captures_ready_together_share_one_commit(app, factories, batching):
    workspace = factories.workspace(credits="10.00")
    before = (batching.batches, batching.items)
    holds = together(app, [lambda i=i: ledger.reserve(workspace.id, 100_000, request_id=f"g{i}") for i in range(20)])
    assert all(isinstance(hold, int) for hold in holds) and len(set(holds)) == 20
    assert (batching.batches - before[0], batching.items - before[1]) == (1, 20)

    costs = [1_000 * (i + 1) for i in range(20)]
    posted = together(app, [lambda h=h, c=c: ledger.capture(h, c, request_id=f"g{i}")
                            for i, (h, c) in enumerate(zip(holds, costs))])
    assert batching.batches - before[0] == 2
    assert [entry.amount for entry in posted] == [-c for c in costs]
    # Each capture saw the balance its predecessors in the batch left.
    assert sorted(entry.balance_after for entry in posted) == sorted(
        10_000_000 - sum(costs[:i + 1]) for i in range(20))
    db.session.expire_all()
    assert ledger.account_state(workspace.id) == (10_000_000 - sum(costs), 0)
    assert ledger.recompute_balance(workspace.id) == 10_000_000 - sum(costs)


def test_a_refused_hold_undoes_only_its_own_writes(app, factories, batching):
    workspace = factories.workspace(credits="10.00")
    outcomes = together(app, [lambda i=i: ledger.reserve(workspace.id, 3_000_000, request_id=f"r{i}")
                              for i in range(5)])
    refused = [o for o in outcomes if isinstance(o, ledger.InsufficientCredits)]
    held = [o for o in outcomes if isinstance(o, int)]
    assert (len(held), len(refused)) == (3, 2)
    assert all(r.available == 1_000_000 and r.needed == 3_000_000 for r in refused)
    db.session.expire_all()
    assert ledger.account_state(workspace.id) == (10_000_000, 9_000_000)
    # The refused requests' hold rows were rolled back with them; the others' stayed.
    assert db.session.scalar(select(func.count()).select_from(Hold).where(Hold.workspace_id == workspace.id)) == 3
    assert pending(workspace.id) == 3


def test_a_capture_of_a_resolved_hold_fails_alone(app, factories, batching):
    workspace = factories.workspace(credits="10.00")
    first, second = ledger.reserve(workspace.id, 1_000_000, request_id="a"), ledger.reserve(
        workspace.id, 1_000_000, request_id="b")
    ledger.void(first)
    outcomes = together(app, [lambda: ledger.capture(first, 500), lambda: ledger.capture(second, 700)])
    assert isinstance(outcomes[0], ledger.LedgerError) and "already voided" in str(outcomes[0])
    assert outcomes[1].amount == -700
    db.session.expire_all()
    assert ledger.account_state(workspace.id) == (10_000_000 - 700, 0)


def test_a_failed_commit_fails_every_caller_and_writes_nothing(app, factories, batching, monkeypatch):
    workspace = factories.workspace(credits="10.00")
    real = group_commit.transaction

    @contextmanager
    def commit_fails():
        with real() as tx:
            yield tx
            raise sa_exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(group_commit, "transaction", commit_fails)
    outcomes = together(app, [lambda i=i: ledger.reserve(workspace.id, 100_000, request_id=f"f{i}")
                              for i in range(4)])
    assert all(isinstance(o, sa_exc.OperationalError) for o in outcomes), outcomes
    db.session.expire_all()
    assert ledger.account_state(workspace.id) == (10_000_000, 0)
    assert pending(workspace.id) == 0


def test_a_caller_killed_while_waiting_still_writes_and_passes_the_lead_on(app, factories, batching):
    workspace = factories.workspace(credits="10.00")
    commits = group_commit.GroupCommit(max_batch=1)  # one write per batch: every other caller waits its turn
    jobs = []

    def hold(name, kill_next=False):
        def work(tx):
            if kill_next:
                jobs[1].kill(block=False)  # the next leader dies while it waits for its turn
            return ledger._reserve_steps(tx, ledger._timed(tx, {
                "workspace_id": workspace.id, "api_key_id": None, "request_id": name, "amount": 100_000,
                "key_month": None, "now": ledger.utcnow(), "expires_at": ledger.utcnow()}), None)

        with app.app_context():
            try:
                return commits.write(work)
            finally:
                db.session.remove()

    jobs.extend(gevent.spawn(hold, name, kill_next=(name == "first")) for name in ("first", "killed", "last"))
    gevent.joinall(jobs, timeout=30)
    assert all(job.ready() for job in jobs), "the lead was lost with the killed caller"
    assert isinstance(jobs[0].value, int) and isinstance(jobs[2].value, int)
    assert isinstance(jobs[1].value, gevent.GreenletExit)  # gevent returns the exit as the value
    assert not commits.leading and not commits.queue
    db.session.expire_all()
    # The killed caller's hold was written all the same: a capture is never dropped on the floor.
    assert pending(workspace.id) == 3 and ledger.account_state(workspace.id) == (10_000_000, 300_000)


def test_concurrent_requests_share_commits_and_the_books_balance(live_server, live_factories, engine):
    tenant = live_factories.tenant(credits="100.00", rpm_limit=10_000)
    before = scrape(live_server.url)
    statuses = []
    barrier = threading.Barrier(32)

    def send(index):
        with requests.Session() as http:
            barrier.wait()
            response = http.post(live_server.base_url + "/chat/completions", timeout=60,
                                 headers={"Authorization": f"Bearer {tenant.plaintext}"},
                                 json={"model": MODEL, "messages": say(f"batch {index}", delay_ms=50),
                                       "max_tokens": 100})
            statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 32
    after = scrape(live_server.url)
    commits = total(after, "ethergate_db_group_commits_total") - total(before, "ethergate_db_group_commits_total")
    writes = (total(after, "ethergate_db_group_commit_writes_total")
              - total(before, "ethergate_db_group_commit_writes_total"))
    if engine == "sqlite":
        assert writes == 64, "each request's hold and capture went through group commit"
        assert commits < writes, "concurrent requests shared commits"
    else:
        assert commits == writes == 0
    assert_books_balance(tenant.workspace.id)
    assert len(assert_holds_resolved_once(tenant.workspace.id)) == 32


def test_turned_off_every_write_has_its_own_transaction(app, factories, batching):
    workspace = factories.workspace(credits="10.00")
    app.config["GROUP_COMMIT"] = False
    before = batching.batches
    holds = together(app, [lambda i=i: ledger.reserve(workspace.id, 100_000, request_id=f"o{i}") for i in range(5)])
    assert all(isinstance(hold, int) for hold in holds) and batching.batches == before
    db.session.expire_all()
    assert ledger.account_state(workspace.id) == (10_000_000, 500_000)


def test_alone_the_leader_commits_without_yielding(app, factories, batching, monkeypatch):
    workspace = factories.workspace(credits="10.00")
    yields = []
    real_sleep = gevent.sleep
    monkeypatch.setattr(group_commit, "sleep", lambda seconds=0: (yields.append(seconds), real_sleep(seconds)))

    def reserve(name):
        with app.app_context():
            try:
                return ledger.reserve(workspace.id, 100_000, request_id=name)
            finally:
                db.session.remove()

    assert isinstance(gevent.spawn(reserve, "alone").get(timeout=10), int)
    assert yields == []  # nobody else could have joined: no turn of the loop spent waiting for them
    assert all(isinstance(h, int) for h in together(app, [lambda i=i: reserve(f"t{i}") for i in range(3)]))
    assert yields == [0]  # with others ready, the first waits one turn for them


def test_alone_a_refused_hold_leaves_nothing(app, factories, batching):
    workspace = factories.workspace(credits="1.00")
    before = batching.batches
    [refused] = together(app, [lambda: ledger.reserve(workspace.id, 2_000_000, request_id="alone")])
    assert isinstance(refused, ledger.InsufficientCredits) and batching.batches == before + 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Hold).where(Hold.workspace_id == workspace.id)) == 0
    assert ledger.account_state(workspace.id) == (1_000_000, 0)
