"""Fixtures for the operations tests: gunicorn servers on a shared fresh database, an app bound to it."""
from __future__ import annotations

import contextlib

import pytest

from tests.conftest import app_config, fresh_database
from tests.factories import Factories
from tests.ops.servers import GunicornServer


@pytest.fixture
def gunicorn_factory(engine, template_databases, tmp_path, request, fake_upstream):
    """Start gunicorn servers; all share one fresh database unless given another URL."""
    started: list[GunicornServer] = []
    shared = {}

    def start(extra_env: dict | None = None, database_url: str | None = None, workers: int = 2) -> GunicornServer:
        if database_url is None:
            if "url" not in shared:
                shared["url"] = fresh_database(engine, template_databases, tmp_path, request)
            database_url = shared["url"]
        server = GunicornServer(database_url, fake_upstream, extra_env, tmp_path / f"gunicorn-{len(started)}.log",
                                workers=workers)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@contextlib.contextmanager
def bound_app(database_url: str):
    """An in-process app on a server's database, for factories and assertions."""
    from ethergate import create_app
    from ethergate.extensions import db

    app = create_app(app_config(database_url))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def factories_for():
    """factories_for(server) -> Factories on that server's database (the app context stays open)."""
    stack = contextlib.ExitStack()

    def make(server) -> Factories:
        return Factories(stack.enter_context(bound_app(server.database_url)))

    with stack:
        yield make
