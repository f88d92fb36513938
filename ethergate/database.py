"""Engine set-up shared by the app and the tests.

SQLite runs in WAL mode and every transaction is BEGIN IMMEDIATE: a transaction that read first and
wrote later could otherwise fail with SQLITE_BUSY when another connection committed in between.
The rule that makes this safe under gevent: never do network I/O inside a transaction (commit or
close the session before calling an upstream), so a transaction never yields to another greenlet.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine


def configure_sqlite(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # BEGIN is emitted below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def unit_of_work() -> Iterator[Connection]:
    """The session's connection inside its transaction; commits on success, rolls back on error.

    Services that move money use this rather than a second connection, so they join whatever the
    caller already read in the same session instead of waiting on its lock.
    """
    from .extensions import db

    try:
        yield db.session.connection()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
