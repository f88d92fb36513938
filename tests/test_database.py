"""The two transaction styles and SQLite's BEGINs: services' unit of work, the hot path's joining of a session
that has only read, deferred reads that lock nothing, and the check that no /v1 stream starts inside a
SQLite transaction."""
from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy
from sqlalchemy import select, text

from ethergate.accounts.models import Workspace
from ethergate.database import OpenTransactionError, unit_of_work
from ethergate.extensions import db
from ethergate.sqlfast import transaction
from ethergate.usage.recorder import INSERT_LOG
from tests.gateway.inprocess import funded, gateway_app  # noqa: F401  (fixtures)


def other_connection() -> sqlite3.Connection:
    """A second SQLite connection that gives up at once when the write lock is taken."""
    return sqlite3.connect(db.engine.url.database, timeout=0.05, isolation_level=None)


def name_of(workspace_id: int) -> str:
    try:
        return db.session.execute(select(Workspace.name).where(Workspace.id == workspace_id)).scalar_one()
    finally:
        db.session.rollback()


def rename_elsewhere(workspace_id: int, name: str) -> None:
    other = other_connection()
    try:
        other.execute("UPDATE workspaces SET name = ? WHERE id = ?", (name, workspace_id))
    finally:
        other.close()


@pytest.fixture
def sqlite_only(engine):
    if engine != "sqlite":
        pytest.skip("SQLite's locking")


def test_a_read_left_open_locks_nothing(app, factories, sqlite_only):
    workspace_id = factories.workspace().id
    db.session.execute(select(Workspace.name).where(Workspace.id == workspace_id)).scalar_one()
    assert db.session().in_transaction()  # forgotten: no commit, no teardown yet
    rename_elsewhere(workspace_id, "written meanwhile")  # a BEGIN IMMEDIATE read would make this "database is locked"
    db.session.rollback()
    assert name_of(workspace_id) == "written meanwhile"


def test_a_session_that_read_then_writes_after_another_commit_is_not_refused(app, factories, sqlite_only):
    workspace = factories.workspace()
    workspace_id = workspace.id
    db.session.execute(select(Workspace.name).where(Workspace.id == workspace_id)).scalar_one()
    rename_elsewhere(workspace_id, "first")
    # A deferred transaction writing over a snapshot another connection has moved past fails with SQLITE_BUSY
    # at once; the write restarts it as BEGIN IMMEDIATE instead.
    db.session.execute(text("UPDATE workspaces SET slug = slug WHERE id = :id"), {"id": workspace_id})
    db.session.commit()
    assert name_of(workspace_id) == "first"


def test_a_unit_of_work_commits_on_success_and_rolls_back_on_error(app, factories):
    workspace_id = factories.workspace().id
    with unit_of_work() as conn:
        conn.execute(text("UPDATE workspaces SET name = 'kept' WHERE id = :id"), {"id": workspace_id})
    assert not db.session().in_transaction()
    with pytest.raises(RuntimeError):
        with unit_of_work() as conn:
            conn.execute(text("UPDATE workspaces SET name = 'lost' WHERE id = :id"), {"id": workspace_id})
            raise RuntimeError("the service failed")
    assert name_of(workspace_id) == "kept"


def test_a_unit_of_work_inside_another_joins_it(app, factories):
    workspace_id = factories.workspace().id

    @unit_of_work()
    def rename(name: str) -> None:
        db.session.get(Workspace, workspace_id).name = name

    with pytest.raises(RuntimeError):
        with unit_of_work():
            rename("inner")
            assert db.session().in_transaction()  # the inner unit did not commit
            raise RuntimeError("the outer service failed")
    assert name_of(workspace_id) != "inner"
    rename("alone")
    assert name_of(workspace_id) == "alone"


def test_a_unit_of_work_holds_sqlites_write_lock_from_its_start(app, factories, sqlite_only):
    workspace_id = factories.workspace().id
    db.session.execute(select(Workspace.name)).all()  # a read already open in the session
    with unit_of_work() as conn:
        conn.execute(select(Workspace.name).where(Workspace.id == workspace_id)).scalar_one()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            rename_elsewhere(workspace_id, "too late")  # a read-modify-write inside the unit cannot be raced
    rename_elsewhere(workspace_id, "after")
    assert name_of(workspace_id) == "after"


def test_a_writing_unit_inside_a_read_only_one_takes_the_write_lock(app, factories, sqlite_only):
    workspace_id = factories.workspace().id
    with unit_of_work(writes=False):
        db.session.execute(select(Workspace.name)).all()
        rename_elsewhere(workspace_id, "while reading")  # the read-only unit locks nothing
        with unit_of_work():
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                rename_elsewhere(workspace_id, "while writing")
    assert name_of(workspace_id) == "while reading"


def test_the_hot_path_joins_a_session_that_only_read(app, factories, sqlite_only):
    workspace_id = factories.workspace().id
    db.session.execute(select(Workspace.name).where(Workspace.id == workspace_id)).scalar_one()
    rename_elsewhere(workspace_id, "moved on")
    with transaction() as tx:
        tx.insert(INSERT_LOG, dict(request_id="joined-read", method="POST", path="/v1/chat/completions",
                                   status_code=200, workspace_id=workspace_id))
    assert not db.session().in_transaction()
    assert db.session.execute(text("SELECT count(*) FROM request_logs WHERE request_id = 'joined-read'")).scalar() == 1
    db.session.rollback()


def stream(client, key: str, request_id: str):
    return client.post("/v1/chat/completions",
                       json={"model": "qwen/qwen-plus", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                       headers={"Authorization": f"Bearer {key}", "X-Request-Id": request_id})


def test_a_stream_that_starts_inside_a_sqlite_transaction_fails_loudly(gateway_app, funded, engine):
    # Flask ends the request's session before the body is read; a connection taken outside it is not ended.
    left_open = []

    @gateway_app.after_request
    def read_and_forget(response):
        connection = db.engine.connect()
        connection.execute(text("SELECT 1")).scalar()
        left_open.append(connection)
        return response

    client = gateway_app.test_client()
    try:
        if engine == "sqlite":
            with pytest.raises(OpenTransactionError, match="still open"):
                stream(client, funded.plaintext, "left-open").get_data()
        else:  # the check is about SQLite's transactions
            assert b"[DONE]" in stream(client, funded.plaintext, "left-open").get_data()
    finally:
        for connection in left_open:
            connection.close()
    with gateway_app.app_context():  # the stream's hold is still resolved (the relay was closed)
        assert db.session.scalar(text("SELECT count(*) FROM holds WHERE status = 'pending'")) == 0


def test_a_stream_with_no_transaction_open_passes_the_check(gateway_app, funded):
    assert gateway_app.config["CHECK_TRANSACTIONS"]
    response = stream(gateway_app.test_client(), funded.plaintext, "closed")
    assert response.status_code == 200 and b"[DONE]" in response.get_data()


def test_sqlalchemy_errors_inside_a_unit_of_work_leave_the_session_usable(app, factories):
    workspace_id = factories.workspace().id
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        with unit_of_work() as conn:
            conn.execute(text("UPDATE workspaces SET name = NULL WHERE id = :id"), {"id": workspace_id})
    assert name_of(workspace_id)


def test_the_check_is_a_strict_setting_off_by_default(tmp_path):
    from ethergate.settings import ConfigError, load_settings

    assert load_settings({}, str(tmp_path))["CHECK_TRANSACTIONS"] is False
    assert load_settings({"ETHERGATE_CHECK_TRANSACTIONS": "true"}, str(tmp_path))["CHECK_TRANSACTIONS"] is True
    with pytest.raises(ConfigError, match="ETHERGATE_CHECK_TRANSACTIONS"):
        load_settings({"ETHERGATE_CHECK_TRANSACTIONS": "sometimes"}, str(tmp_path))
