"""Group commit: the hot path's write transactions of requests that are ready together share one COMMIT.

On SQLite every /v1 request writes twice (its hold, then its capture with the log row). Each of those as its
own transaction costs a BEGIN IMMEDIATE, a COMMIT that appends every page it dirtied to the WAL, and later
the checkpoint that copies those pages back: the same credit_accounts page, the same last pages of holds,
ledger_entries and request_logs, once per request. Under load many requests reach that point in the same
turn of the event loop, so `write` lets them share one transaction:

* the first caller leads: when another greenlet is ready to run, it yields once, so every greenlet that is
  ready in this turn of the loop can add its work; then it runs the batch in one transaction and wakes the
  others;
* each caller's work runs inside its own SAVEPOINT, so an error in one (insufficient credits, a hold that
  was already resolved) undoes only that one's writes and is raised to that caller alone;
* nobody returns before the COMMIT that holds their writes: a response still waits for its own durable
  capture. If the COMMIT fails, every caller in the batch gets the error, as each would have alone.

A caller that arrives while a batch is being written waits for the next one, which the first of them leads.
Alone (c1, a test client, a CLI command) a write is exactly one transaction of its own, as before.

Only SQLite under gevent batches; elsewhere `write` is `sqlfast.transaction()` around the work. PostgreSQL
needs no help here: its hot-path writes are single statements in autocommit, and concurrent commits
already share WAL flushes in the server. ETHERGATE_GROUP_COMMIT=false turns batching off.
"""
from __future__ import annotations

import weakref
from collections import deque
from typing import Callable, TypeVar

from flask import current_app
from gevent import get_hub, monkey, sleep
from gevent.event import Event

from .extensions import db
from .observability.metrics import record_group_commit
from .sqlfast import Statement, Transaction, transaction

T = TypeVar("T")

MAX_BATCH = 128  # bounds how long one COMMIT keeps the loop (and the SQLite write lock)
SAVEPOINT = Statement("SAVEPOINT group_item")
RELEASE = Statement("RELEASE group_item")
ROLLBACK_TO = Statement("ROLLBACK TO group_item")


def _under_gevent() -> bool:
    return monkey.is_module_patched("threading")


class _Waiter:
    __slots__ = ("work", "result", "error", "done", "wake", "leads")

    def __init__(self, work):
        self.work = work
        self.result = self.error = self.wake = None
        self.done = self.leads = False

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """One engine's batches; used from gevent greenlets of one process (one event loop)."""

    def __init__(self, max_batch: int = MAX_BATCH):
        self.max_batch = max_batch
        self.queue: deque[_Waiter] = deque()
        self.leading = False
        self.batches = self.items = 0  # how many COMMITs carried how many writes (tests, metrics)

    def write(self, work: Callable[[Transaction], T]) -> T:
        waiter = _Waiter(work)
        self.queue.append(waiter)
        if self.leading:
            waiter.wake = Event()
            try:
                waiter.wake.wait()
            except BaseException:  # killed while waiting: its writes still go in, and the lead is passed on
                if not waiter.done:
                    self.queue.remove(waiter)
                    self._commit([waiter])
                    if waiter.leads:
                        self._finish()
                raise
            if waiter.done:
                return waiter.outcome()
            # Woken undone: the batch before left this one first in the queue to lead the next.
        self.leading = True
        try:
            if _others_ready():
                sleep(0)  # every greenlet ready in this turn of the loop joins the batch
        finally:  # even when killed in the yield: the batch is written, and the lead passed on
            batch = [self.queue.popleft() for _ in range(min(len(self.queue), self.max_batch))]
            try:
                self._commit(batch)
            finally:
                self._finish()
        return waiter.outcome()

    def _commit(self, batch: list[_Waiter]) -> None:
        try:
            with transaction() as tx:
                if len(batch) == 1:  # alone, its own transaction undoes its writes: no savepoint needed
                    _run_alone(tx, batch[0])
                else:
                    for waiter in batch:
                        _run_one(tx, waiter)
        except BaseException as error:  # the COMMIT (or the transaction itself) failed: nothing was written
            for waiter in batch:
                if waiter.error is None:
                    waiter.error, waiter.result = error, None
            if not isinstance(error, Exception):
                raise
        finally:
            self.batches += 1
            self.items += len(batch)
            record_group_commit(len(batch))
            for waiter in batch:
                waiter.done = True
                if waiter.wake is not None:
                    waiter.wake.set()

    def _finish(self) -> None:
        if self.queue:
            successor = self.queue[0]  # still leading: the first waiter leads the next batch
            successor.leads = True
            successor.wake.set()
        else:
            self.leading = False


def _others_ready() -> bool:
    """Whether another greenlet can run before the loop next polls: only those could join a batch now.

    Alone (c1) the yield would find nobody and cost a loop iteration, measured at 0.2-0.3 ms of CPU a request.
    Reads libev's pending watchers and gevent's callback queue; if gevent stops exposing the queue, yield.
    """
    loop = get_hub().loop
    callbacks = getattr(loop, "_callbacks", None)
    return callbacks is None or bool(loop.pendingcnt) or len(callbacks) > 0


def _run_alone(tx: Transaction, waiter: _Waiter) -> None:
    try:
        waiter.result = waiter.work(tx)
    except Exception as error:
        waiter.error = error
        raise  # rolls the transaction back; the caller gets this error, not a commit failure


def _run_one(tx: Transaction, waiter: _Waiter) -> None:
    tx.execute(SAVEPOINT)
    try:
        waiter.result = waiter.work(tx)
    except Exception as error:
        waiter.error = error
        tx.execute(ROLLBACK_TO)  # undoes this caller's writes only (fails the batch if the database cannot)
    tx.execute(RELEASE)


_batches: "weakref.WeakKeyDictionary[object, GroupCommit]" = weakref.WeakKeyDictionary()
_GEVENT: list[bool] = []


def batches_for(engine) -> GroupCommit:
    found = _batches.get(engine)
    if found is None:
        found = _batches[engine] = GroupCommit()
    return found


def write(work: Callable[[Transaction], T]) -> T:
    """Runs `work(tx)` in a write transaction, shared with other requests' when they are ready together.

    Returns what `work` returns, or raises what it raised (its writes undone), only once the transaction that
    holds its writes has committed. `work` must only use `tx`: it may run in another request's greenlet.
    """
    if not _GEVENT:
        _GEVENT.append(_under_gevent())
    engine = db.engine
    if (not _GEVENT[0] or engine.dialect.name != "sqlite" or not current_app.config.get("GROUP_COMMIT", True)
            or (db.session.registry.has() and db.session().in_transaction())):
        with transaction() as tx:
            return work(tx)
    return batches_for(engine).write(work)
