"""The hot-path SQL helper: same rows as SQLAlchemy, same error types, joins the session, survives a lost connection."""
import time
from datetime import datetime

import pytest
import sqlalchemy
from sqlalchemy import insert, select, text

from ethergate.extensions import db
from ethergate.sqlfast import Statement, transaction
from ethergate.usage.models import RequestLog
from ethergate.usage.recorder import INSERT_LOG

ROW = dict(request_id="r-1", method="POST", path="/v1/chat/completions", status_code=200, stream=False,
           prompt_tokens=3, completion_tokens=4, cached_tokens=0, reasoning_tokens=0, cost_micro=5, estimated=True,
           cancelled=False, attempts=[{"provider": "deepseek", "status": 200}], error_message="ü",
           created_at=datetime(2026, 3, 1, 12, 0, 0))  # microsecond 0: SQLite text must still carry .000000


def stored(request_id: str) -> dict:
    table = RequestLog.__table__
    columns = [c for c in table.columns if c.name != "id"]
    rendered = [sqlalchemy.cast(c, sqlalchemy.Text) for c in columns]  # the stored text, not the parsed value
    row = db.session.execute(select(*rendered).where(table.c.request_id == request_id)).one()
    db.session.rollback()
    return dict(zip([c.name for c in columns], row))


def test_a_row_insert_stores_what_a_core_insert_stores(app):
    with transaction() as tx:
        tx.insert(INSERT_LOG, dict(ROW, request_id="fast", attempts=None))
    db.session.execute(insert(RequestLog.__table__).values(**dict(ROW, request_id="core", attempts=None)))
    db.session.commit()
    fast, core = stored("fast"), stored("core")
    assert fast.pop("request_id") == "fast" and core.pop("request_id") == "core"
    assert fast == core
    assert fast["attempts"] == "null"  # a JSON column given None stores JSON null, as SQLAlchemy's JSON does


def test_an_unknown_column_is_refused_like_a_core_insert(app):
    with pytest.raises(sqlalchemy.exc.CompileError):
        with transaction() as tx:
            tx.insert(INSERT_LOG, dict(ROW, bogus=1))


def test_a_transaction_joins_the_open_session_instead_of_waiting_on_it(app, factories):
    workspace = factories.workspace()
    db.session.execute(text("UPDATE workspaces SET name = 'renamed' WHERE id = :id"), {"id": workspace.id})
    # On SQLite the session now holds the write lock: a second connection would wait for its own caller.
    with transaction() as tx:
        tx.insert(INSERT_LOG, dict(ROW, request_id="joined", workspace_id=workspace.id))
    assert not db.session().in_transaction()  # committed together
    assert stored("joined")["workspace_id"] == str(workspace.id)
    assert db.session.execute(text("SELECT name FROM workspaces WHERE id = :id"), {"id": workspace.id}).scalar() == "renamed"
    db.session.rollback()


def test_driver_errors_arrive_as_sqlalchemy_errors_and_roll_back(app, factories):
    # Read before: inside a fast transaction on SQLite, a lazy load through the session would wait on its lock.
    workspace_id = factories.workspace().id
    duplicate = Statement("INSERT INTO credit_accounts (workspace_id, balance_micro, held_micro) VALUES (:id, 0, 0)")
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        with transaction() as tx:
            tx.insert(INSERT_LOG, dict(ROW, request_id="rolled-back"))
            tx.execute(duplicate, {"id": workspace_id})
    assert db.session.execute(select(RequestLog).where(RequestLog.request_id == "rolled-back")).first() is None
    db.session.rollback()
    with transaction() as tx:  # the pooled connection is usable again
        assert tx.scalar(Statement("SELECT count(*) FROM credit_accounts WHERE workspace_id = :id"),
                         {"id": workspace_id}) == 1


@pytest.mark.postgresql_only  # the pre-ping shortcut is PostgreSQL's
def test_a_connection_the_server_dropped_is_replaced(app, engine, request):
    backend = Statement("SELECT pg_backend_pid()")
    with transaction(single=True) as tx:
        pid = tx.scalar(backend)
    pg = request.getfixturevalue("pg_server")
    pg.psql(f"SELECT pg_terminate_backend({pid})")
    # pg_terminate_backend only signals: wait until the backend has gone, and its goodbye is on the socket.
    deadline = time.monotonic() + 10
    while pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}").strip() != "0":
        assert time.monotonic() < deadline, "the backend did not exit"
        time.sleep(0.05)
    with transaction(single=True) as tx:
        assert tx.scalar(backend) != pid
    with transaction() as tx:  # and a multi-statement transaction on the next pooled connection too
        assert tx.scalar(backend)
