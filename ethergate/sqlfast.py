"""Hot-path SQL: statements written once, executed on the pooled DBAPI connection.

Every /v1 request runs a few short write transactions (hold, capture, log row). Through SQLAlchemy they
cost ~1 ms of CPU each, mostly building and cache-keying expressions and Session scaffolding; the same
statements on the DBAPI cursor cost a few microseconds (measured: a Core UPDATE built per call 178 us,
prebuilt text() 24 us, exec_driver_sql 16 us, DBAPI cursor 3 us; a Session begin/commit 94 us, a pooled
raw connection's 15 us). So the hot path writes SQL once, with `:name` placeholders rendered per
dialect, and keeps every rule of database.py:

* this is the hot path's unit of work, as database.unit_of_work is the services': SQLite transactions are
  BEGIN IMMEDIATE, and no network I/O happens inside one;
* a transaction joins the Flask-SQLAlchemy session's when that one is open, as unit_of_work does, so a
  caller that already wrote (and on SQLite locked) in its session is never blocked by itself; a session
  that has only read is first restarted as a write transaction (database.begin_writing);
* driver errors are raised as SQLAlchemy's exception classes, so callers catch the same types, and a
  connection the driver reports broken is invalidated rather than returned to the pool.

Values are converted as SQLAlchemy's column types would: datetimes (naive UTC) become SQLite's text
format, JSON columns are serialised with json.dumps.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from sqlalchemy import exc as sa_exc
from sqlalchemy import types
from sqlalchemy.sql.schema import Table

from .database import begin_writing
from .extensions import db

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Statement:
    """One SQL statement with `:name` placeholders, rendered once per dialect."""

    __slots__ = ("text", "postgresql", "names")

    def __init__(self, text: str):
        self.text = " ".join(text.split())
        self.names = tuple(dict.fromkeys(_NAMED.findall(self.text)))
        # psycopg uses pyformat: a literal % must be doubled; sqlite3 takes :name as written.
        self.postgresql = _NAMED.sub(r"%(\1)s", self.text.replace("%", "%%"))

    def sql(self, dialect: str) -> str:
        return self.postgresql if dialect == "postgresql" else self.text

    def __repr__(self) -> str:
        return f"Statement({self.text!r})"


def sqlite_time(value: datetime | None):
    # SQLAlchemy's SQLite DATETIME format; naive values only (the app stores naive UTC).
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _same_time(value: datetime | None):
    return value


class RowInsert:
    """`INSERT INTO table (every column but id) VALUES ...`, filled from a dict of column values.

    Missing columns get the model's default (scalar or callable) or NULL, as a Core insert with those keys
    would; a JSON column that is present is serialised even when None (SQLAlchemy's JSON stores 'null').
    """

    def __init__(self, table: Table, returning_id: bool = True):
        columns = [c for c in table.columns if c.name != "id"]
        self.table = table.name
        self.column_objects = {c.name: c for c in columns}  # a foreign key column learns its type late
        self.columns = tuple(c.name for c in columns)
        self.names = frozenset(self.columns)
        self.defaults = {c.name: c.default.arg for c in columns if c.default is not None and c.default.is_scalar}
        self.factories = {c.name: c.default.arg for c in columns if c.default is not None and c.default.is_callable}
        self.json = frozenset(c.name for c in columns if isinstance(c.type, types.JSON))
        self.times = frozenset(c.name for c in columns if isinstance(c.type, types.DateTime))
        self.returning_id = returning_id
        self.statement = Statement(f"INSERT INTO {table.name} ({', '.join(self.columns)}) "
                                   f"VALUES ({', '.join(':' + name for name in self.columns)})"
                                   + (" RETURNING id" if returning_id else ""))

    def params(self, values: dict, tx: "Transaction") -> dict:
        if not self.names.issuperset(values):
            # The error SQLAlchemy raises for a Core insert with an unknown column.
            raise sa_exc.CompileError(f"Unconsumed column names: {', '.join(sorted(set(values) - self.names))}")
        row = dict.fromkeys(self.columns)
        row.update(self.defaults)
        for name, factory in self.factories.items():
            if name not in values:
                row[name] = factory(None)  # SQLAlchemy wraps a default callable to take an (unused) context
        row.update(values)
        for name in self.json:
            if name in values:
                row[name] = json.dumps(values[name])
        if tx.time is not _same_time:
            for name in self.times:
                row[name] = tx.time(row[name])
        return row

    def param_name(self, column: str) -> str:
        """The parameter name of a column in `prefixed_params`, unique across tables in one statement."""
        return f"{self.table}__{column}"

    def prefixed_params(self, values: dict, tx: "Transaction") -> dict:
        return {self.param_name(name): value for name, value in self.params(values, tx).items()}


class Transaction:
    """One write transaction on a DBAPI connection; use as a context manager (commits, or rolls back)."""

    __slots__ = ("dialect", "time", "_fairy", "_session", "_cursor", "_dbapi_error", "_single")

    def __init__(self, single: bool = False):
        self._fairy = self._session = self._cursor = None
        self._single = single

    def __enter__(self) -> "Transaction":
        engine = db.engine
        self.dialect = engine.dialect.name
        self.time = sqlite_time if self.dialect == "sqlite" else _same_time
        self._dbapi_error = engine.dialect.loaded_dbapi.Error
        # Only look at the session if this app context already made one: creating one costs more than the rest.
        if db.session.registry.has() and db.session().in_transaction():
            self._session = db.session()
            connection = self._session.connection().connection
            if self.dialect == "sqlite":
                begin_writing(connection)  # the session may so far have only read, under a deferred BEGIN
            self._cursor = connection.dbapi_connection.cursor()
            return self
        fairy = self._fairy = engine.raw_connection()
        with self._abandoned_on_error("BEGIN IMMEDIATE"):
            self._cursor = fairy.cursor()
            if self.dialect == "sqlite":
                self._cursor.execute("BEGIN IMMEDIATE")
            elif self._single:
                # One statement is its own transaction: no BEGIN and COMMIT round trips (see `transaction`).
                fairy.dbapi_connection.autocommit = True
        return self

    def __exit__(self, kind, error, _tb) -> None:
        self._cursor.close()  # finishes any statement still open, which would block COMMIT on SQLite
        if self._session is not None:
            if kind is None:
                self._session.commit()
            else:
                self._session.rollback()
            return
        if kind is not None:
            self._abandon(error)
            return
        fairy = self._fairy
        with self._abandoned_on_error("COMMIT"):
            if self._single and self.dialect != "sqlite":
                fairy.dbapi_connection.autocommit = False  # the pool hands out connections in transaction mode
            else:
                fairy.commit()
        fairy.close()

    @contextmanager
    def _abandoned_on_error(self, statement: str) -> Iterator[None]:
        """Any error gives the connection back (or throws it away); a driver error comes out as SQLAlchemy's."""
        try:
            yield
        except self._dbapi_error as error:
            wrapped = self._wrap(error, statement, None)
            self._abandon(error)
            raise wrapped from error
        except BaseException as error:
            self._abandon(error)
            raise

    def _broken(self, error: BaseException | None) -> bool:
        error = getattr(error, "orig", error)  # look through SQLAlchemy's wrapper
        return (isinstance(error, self._dbapi_error) and self._fairy is not None
                and self._fairy.dbapi_connection is not None
                and db.engine.dialect.is_disconnect(error, self._fairy.dbapi_connection, self._cursor))

    def _abandon(self, error: BaseException | None) -> None:
        """Roll back and give the connection back; a connection the driver calls broken is thrown away."""
        fairy = self._fairy
        try:
            if self._broken(error):
                fairy.invalidate(getattr(error, "orig", error))
            else:
                fairy.rollback()
                if self._single and self.dialect != "sqlite":
                    fairy.dbapi_connection.autocommit = False
        except Exception:  # noqa: BLE001 (the original error is the one to report)
            fairy.invalidate()
        finally:
            fairy.close()

    def _wrap(self, error: Exception, statement: str, params) -> sa_exc.DBAPIError:
        return sa_exc.DBAPIError.instance(statement, params, error, self._dbapi_error,
                                          connection_invalidated=self._broken(error), dialect=db.engine.dialect)

    def execute(self, statement: Statement, params: dict | None = None):
        """Runs one statement; returns the cursor. Read every row it returns (see `all`)."""
        sql = statement.sql(self.dialect)
        try:
            self._cursor.execute(sql, params or {})
        except self._dbapi_error as error:
            raise self._wrap(error, sql, params) from error
        return self._cursor

    def all(self, statement: Statement, params: dict | None = None) -> list[tuple]:
        # Always read to the end: SQLite keeps an UPDATE/INSERT ... RETURNING running until its rows are
        # exhausted, and COMMIT then fails with "SQL statements in progress".
        return self.execute(statement, params).fetchall()

    def one(self, statement: Statement, params: dict | None = None) -> tuple | None:
        rows = self.all(statement, params)
        return rows[0] if rows else None

    def scalar(self, statement: Statement, params: dict | None = None):
        rows = self.all(statement, params)
        return rows[0][0] if rows else None

    def rowcount(self, statement: Statement, params: dict | None = None) -> int:
        return self.execute(statement, params).rowcount

    def insert(self, insert: RowInsert, values: dict):
        """Inserts one row; returns its id when the insert has RETURNING id."""
        cursor = self.execute(insert.statement, insert.params(values, self))
        return cursor.fetchall()[0][0] if insert.returning_id else None


def dialect_name() -> str:
    """"sqlite" or "postgresql": the app's database (needs an app context)."""
    return db.engine.dialect.name


def transaction(single: bool = False) -> Transaction:
    """`with transaction() as tx:` one short write transaction (see the module docstring).

    `single=True` promises exactly one statement: on PostgreSQL it then runs in autocommit, so the whole
    transaction is one round trip and a row it locks is held only while the server runs it. (SQLite keeps
    BEGIN IMMEDIATE: it has no round trips to save.)
    """
    return Transaction(single)
