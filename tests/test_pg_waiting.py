"""psycopg's waits on gevent's loop (ethergate.pg_waiting): the same answers and errors as psycopg's own
wait, and a query that waits for the server lets other greenlets run meanwhile."""
from __future__ import annotations

import subprocess
import sys

import gevent
import psycopg
import pytest
from psycopg import waiting

from ethergate import pg_waiting
from ethergate.extensions import db
from tests.conftest import ROOT, TEST_SECRET


@pytest.fixture
def on_hub(app, monkeypatch):
    monkeypatch.setattr(waiting, "wait", pg_waiting.wait_on_hub)  # what install() does under the server
    connection = db.engine.raw_connection()
    yield connection.dbapi_connection
    connection.close()


@pytest.mark.postgresql_only
def test_queries_answer_through_the_hub(on_hub):
    with on_hub.cursor() as cursor:
        cursor.execute("SELECT %s::int + 1, repeat('x', 100000)", (41,))
        answer, big = cursor.fetchone()
    assert answer == 42 and len(big) == 100_000
    on_hub.commit()


@pytest.mark.postgresql_only
def test_server_errors_still_come_back_as_psycopgs(on_hub):
    with pytest.raises(psycopg.errors.DivisionByZero):
        with on_hub.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
    on_hub.rollback()
    with on_hub.cursor() as cursor:
        cursor.execute("SET statement_timeout = 50")
        with pytest.raises(psycopg.errors.QueryCanceled):
            cursor.execute("SELECT pg_sleep(5)")
    on_hub.rollback()


@pytest.mark.postgresql_only
def test_a_wait_for_the_server_lets_other_greenlets_run(on_hub):
    events = []

    def query():
        with on_hub.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.3)")
        events.append("query done")

    def other():
        events.append("other ran")

    waiting_query = gevent.spawn(query)
    gevent.sleep(0.05)  # the query is now waiting for the server
    gevent.spawn(other).join()
    waiting_query.join(timeout=10)
    assert events == ["other ran", "query done"]


@pytest.mark.postgresql_only
def test_a_wait_with_a_time_limit_keeps_psycopgs(on_hub, monkeypatch):
    used = []
    monkeypatch.setattr(pg_waiting, "_PSYCOPGS_WAIT", lambda *args, **kw: used.append(kw) or "psycopg's")
    assert pg_waiting.wait_on_hub(iter(()), on_hub.fileno(), timeout=1.5) == "psycopg's"
    assert used == [{"interval": 0.0, "timeout": 1.5}]


def test_installed_only_under_gevents_patched_select():
    assert pg_waiting.install() is False  # the test process is not monkey-patched
    assert waiting.wait is not pg_waiting.wait_on_hub


def test_a_gevent_server_on_postgresql_waits_on_the_hub():
    program = ("from gevent import monkey; monkey.patch_all()\n"
               "from psycopg import waiting\n"
               "from ethergate import create_app, pg_waiting\n"
               "from ethergate.extensions import db\n"
               f"app = create_app({{'SQLALCHEMY_DATABASE_URI': 'postgresql+psycopg://eg@127.0.0.1:1/eg',"
               f" 'SECRET_KEY': {TEST_SECRET!r}}})\n"
               "with app.app_context():\n"
               "    db.engine\n"
               "print(waiting.wait is pg_waiting.wait_on_hub)\n")
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "True", result.stderr[-2000:]
