"""Engine set-up and the two ways to run a transaction.

* Services run their changes in `unit_of_work()`: the Flask-SQLAlchemy session's transaction, committed on
  success and rolled back on error; units nested inside one join it and only the outermost commits.
* The /v1 hot path writes with `sqlfast.transaction()` (prebuilt SQL on the DBAPI connection; `single=True`
  is one statement in autocommit on PostgreSQL).

Nothing else commits. A read needs no unit of work: the request's session ends at teardown.

SQLite runs in WAL mode. A read transaction is a deferred BEGIN, which takes no lock, so a read left open
cannot block a writer across a greenlet switch; a write transaction is BEGIN IMMEDIATE, since a deferred
one that read first and wrote later fails with SQLITE_BUSY when another connection committed in between.
A session that starts writing inside a deferred read is restarted as BEGIN IMMEDIATE before its first write
(its earlier reads then stand as PostgreSQL's READ COMMITTED would leave them). Still, never do network
I/O inside a write transaction, and hold none while a /v1 stream is sent: Flask ends the request's session
before the body is read, and in tests `check_no_open_transaction` fails a stream that still holds one.
"""
from __future__ import annotations

import logging
import sqlite3
import weakref
from contextlib import contextmanager
from typing import Iterator

from gevent.monkey import get_original
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import PoolProxiedConnection

log = logging.getLogger(__name__)
# Each checkpoint fsyncs the WAL and the database and copies every page changed since the last one; the hot
# pages (the tables' and indexes' last leaves, the workspace's account row) change on every request. Side by
# side (two servers, six alternating pairs of runs), 0.25 s against 0.02 s: 22% less CPU per request at c1
# and 8% at c32, p99 no worse; 1 s saved no more and raised the c1 p99.
CHECKPOINT_INTERVAL_SECONDS = 0.25
# So that a committing request never checkpoints itself: the WAL gains ~4,500 pages in 0.25 s at 750 req/s.
# SQLite's default of 1,000 pages would have it copy the WAL while the event loop stands still.
AUTOCHECKPOINT_PAGES = 20_000
# Engines whose WAL a checkpointer thread keeps short (servers); CLI commands and tests keep SQLite's default.
_CHECKPOINTED: weakref.WeakSet[Engine] = weakref.WeakSet()
# A WAL that grew past this in a burst (a stalled checkpoint) is cut back to it once checkpointed.
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024


def configure_engine(engine: Engine) -> None:
    """Per dialect: SQLite's pragmas and BEGINs; PostgreSQL's pre-ping without a round trip, and its waits
    on gevent's loop (pg_waiting)."""
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        from . import pg_waiting  # imports psycopg, which a SQLite install may not need
        _cheap_pre_ping(engine, pg_waiting.pending)
        pg_waiting.install()


configure_sqlite = configure_engine  # the name create_app calls


def _cheap_pre_ping(engine: Engine, pending) -> None:
    """pool_pre_ping asks the server on every checkout: a round trip per transaction, 11% of a request.

    An idle connection has nothing to read unless the server closed it or sent an error on its way out
    (restart, pg_terminate_backend, idle timeout). So a connection whose socket is not readable is taken as
    alive, and only one with something pending gets the real ping, which fails and is replaced as before.
    """
    full_ping = engine.dialect.do_ping

    def do_ping(dbapi_connection) -> bool:
        try:
            if not (dbapi_connection.closed or dbapi_connection.broken):
                if not pending(dbapi_connection.fileno()):
                    return True
        except (OSError, ValueError, AttributeError):
            pass
        return full_ping(dbapi_connection)

    engine.dialect.do_ping = do_ping


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # BEGIN is emitted below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if engine in _CHECKPOINTED:
            cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        writes = bool(conn.get_execution_options().get(WRITE_OPTION))
        conn.connection.info[WRITING] = writes
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn: Connection, _cursor, statement: str, _params, _context, _many):
        if not conn.connection.info.get(WRITING, True) and _writes(statement):
            _restart_for_writing(conn.connection)


# A Connection execution option: begin this transaction as a writer (BEGIN IMMEDIATE on SQLite).
WRITE_OPTION = "ethergate_writes"
# In a pooled SQLite connection's info: whether its open transaction holds the write lock.
WRITING = "ethergate_writing"
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "BEGIN", "RELEASE", "COMMIT", "ROLLBACK")


def _writes(statement: str) -> bool:
    """Whether a statement may write: anything but a plain read (a WITH may end in INSERT/UPDATE/DELETE)."""
    head = statement.lstrip()[:8].upper()
    if head.startswith("WITH"):
        upper = statement.upper()
        return any(word in upper for word in ("INSERT ", "UPDATE ", "DELETE "))
    return not head.startswith(_READS)


def _restart_for_writing(connection: PoolProxiedConnection) -> None:
    """Turns a deferred SQLite read transaction into a write one: end the read, BEGIN IMMEDIATE."""
    dbapi = connection.dbapi_connection
    if dbapi.in_transaction:
        dbapi.execute("COMMIT")  # nothing written yet: this only ends the read snapshot
    dbapi.execute("BEGIN IMMEDIATE")
    connection.info[WRITING] = True


def begin_writing(connection: PoolProxiedConnection) -> None:
    """For code that writes on a session's DBAPI connection itself (sqlfast): hold the write lock first."""
    if connection.info.get(WRITING, True) is False and connection.dbapi_connection.in_transaction:
        _restart_for_writing(connection)


def is_sqlite_file(url) -> bool:
    """A SQLite database in a file (`url`: a string or SQLAlchemy URL), not in memory nor another engine's."""
    url = make_url(url)
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


def leave_checkpoints_to_thread(engine: Engine) -> bool:
    """A database file's connections from now on: only past AUTOCHECKPOINT_PAGES do they checkpoint themselves."""
    if not is_sqlite_file(engine.url):
        return False
    _CHECKPOINTED.add(engine)
    engine.dispose()  # the pool's connections were opened with SQLite's default
    return True


def start_checkpointer(engine: Engine) -> None:
    """SQLite: checkpoint the WAL from a native thread, so requests do not wait for the checkpoint's fsyncs.

    Otherwise SQLite checkpoints in the committing connection once the WAL holds wal_autocheckpoint pages,
    and that commit then waits for two fsyncs while the event loop stands still: measured, c1 p99 6.0 ms with
    it, 3.1 ms without. PASSIVE checkpoints never block writers; the built-in one stays as the bound on the
    WAL (AUTOCHECKPOINT_PAGES), and finds little left to copy. Servers call this (wsgi.py); CLI commands and
    tests do not.
    """
    if not leave_checkpoints_to_thread(engine):
        return
    path = engine.url.database
    sleep = get_original("time", "sleep")

    def run() -> None:
        connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        warned = False
        while True:
            sleep(CHECKPOINT_INTERVAL_SECONDS)
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                if not warned:  # a busy or locked database is retried at the next tick; say so once
                    warned = True
                    log.warning("WAL checkpoint failed; retrying every %s s", CHECKPOINT_INTERVAL_SECONDS,
                                exc_info=True)

    get_original("_thread", "start_new_thread")(run, ())


@contextmanager
def unit_of_work(writes: bool = True) -> Iterator[Connection]:
    """A service's transaction: the session's connection, committed on success, rolled back on error.

    Services that move money use this rather than a second connection, so they join whatever the
    caller already read in the same session instead of waiting on its lock. A unit of work inside another
    joins it: only the outermost one commits, and an error rolls the outermost one back as it leaves it (so
    only the outermost level may retry after a database error, as post_entry does). On SQLite the
    transaction holds the write lock from the start; `writes=False` is for reads that must end now (before
    network I/O): a deferred BEGIN, which locks nothing. Also usable as a decorator (`@unit_of_work()`).
    """
    from .extensions import db

    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        if depth:
            yield _connection(session, writes)
            return
        try:
            yield _connection(session, writes)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    finally:
        session.info[_DEPTH] = depth


def _connection(session, writes: bool) -> Connection:
    if not session.in_transaction():
        return session.connection(execution_options={WRITE_OPTION: True} if writes else None)
    conn = session.connection()
    if writes and conn.dialect.name == "sqlite":
        begin_writing(conn.connection)
    return conn


_DEPTH = "ethergate_unit_of_work_depth"


class OpenTransactionError(AssertionError):
    """A /v1 stream started while this request still had a SQLite transaction open (checked in tests)."""


def watch_connections(engine: Engine) -> None:
    """Remembers which greenlet checked out each pooled connection, for check_no_open_transaction."""
    import gevent

    @event.listens_for(engine, "checkout")
    def _checkout(_dbapi, record, _proxy):
        record.info["ethergate_owner"] = gevent.getcurrent()
        _CHECKED_OUT.add(record)

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi, record):
        record.info.pop("ethergate_owner", None)
        _CHECKED_OUT.discard(record)


_CHECKED_OUT: "weakref.WeakSet" = weakref.WeakSet()


def check_no_open_transaction(where: str) -> None:
    """Raises OpenTransactionError if this greenlet holds a pooled SQLite connection inside a transaction."""
    import gevent

    me = gevent.getcurrent()
    for record in list(_CHECKED_OUT):
        dbapi = record.dbapi_connection
        if (record.info.get("ethergate_owner") is me and isinstance(dbapi, sqlite3.Connection)
                and dbapi.in_transaction):
            raise OpenTransactionError(
                f"{where}: a SQLite transaction is still open; end reads and commit writes before streaming "
                "(an open transaction would stay open, holding its snapshot or the write lock, for the whole stream)")
