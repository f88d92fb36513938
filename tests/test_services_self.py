"""Self-tests of tests/services.py (throwaway PostgreSQL / Redis / Chromium)."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile

import psycopg
import pytest
import redis

from tests.services import (
    POSTGRES_URL_ENV,
    REDIS_URL_ENV,
    ServiceError,
    find_chromium,
    free_port,
    start_postgres,
    start_redis,
)


def test_free_port_is_bindable():
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


# --------------------------------------------------------------------------
# PostgreSQL


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    svc = start_postgres(tmp_path_factory.mktemp("pg"))
    yield svc
    svc.stop()


def test_postgres_two_databases(pg):
    url_a = pg.create_database("selftest_a")
    url_b = pg.create_database("selftest_b")
    assert url_a.startswith("postgresql://") and url_a.endswith("/selftest_a")
    assert url_b.endswith("/selftest_b")

    with psycopg.connect(url_a, connect_timeout=10) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "selftest_a"
        conn.execute("CREATE TABLE only_in_a (id int primary key)")
        conn.execute("INSERT INTO only_in_a VALUES (1)")
    with psycopg.connect(url_b, connect_timeout=10) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "selftest_b"
        assert conn.execute("SELECT to_regclass('only_in_a')").fetchone()[0] is None
    with psycopg.connect(url_a, connect_timeout=10) as conn:
        assert conn.execute("SELECT count(*) FROM only_in_a").fetchone()[0] == 1


def test_postgres_recreate_gives_empty_database(pg):
    url = pg.create_database("selftest_again")
    with psycopg.connect(url, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE t (x int)")
    # An open connection must not prevent replacing the database.
    held = psycopg.connect(url, connect_timeout=10)
    try:
        url2 = pg.create_database("selftest_again")
    finally:
        held.close()
    assert url2 == url
    with psycopg.connect(url2, connect_timeout=10) as conn:
        assert conn.execute("SELECT to_regclass('t')").fetchone()[0] is None


def test_postgres_settings(pg):
    if pg.external:
        pytest.skip(f"{POSTGRES_URL_ENV} is set: server settings are not ours")
    assert pg.url == f"postgresql://{pg.user}@127.0.0.1:{pg.port}/postgres"
    with psycopg.connect(pg.url, connect_timeout=10) as conn:
        show = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("listen_addresses", "fsync", "synchronous_commit",
                         "full_page_writes", "max_connections", "unix_socket_directories")
        }
    assert show["listen_addresses"] == "127.0.0.1"
    assert show["fsync"] == "off"
    assert show["synchronous_commit"] == "off"
    assert show["full_page_writes"] == "off"
    assert show["max_connections"] == "300"
    assert show["unix_socket_directories"] == str(pg.socket_dir)


def test_a_durable_postgres_keeps_its_flushes(tmp_path, monkeypatch):
    monkeypatch.delenv(POSTGRES_URL_ENV, raising=False)
    svc = start_postgres(tmp_path / "pg", durable=True)  # the benchmark's
    try:
        with psycopg.connect(svc.url, connect_timeout=10) as conn:
            show = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("fsync", "synchronous_commit", "full_page_writes")}
        assert show == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    finally:
        svc.stop()


def test_postgres_stop_is_idempotent(tmp_path, monkeypatch):
    monkeypatch.delenv(POSTGRES_URL_ENV, raising=False)
    svc = start_postgres(tmp_path / "pg")
    url = svc.create_database("stopme")
    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1
    svc.stop()
    svc.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=3)
    assert not (tmp_path / "pg" / "data" / "postmaster.pid").exists()


def test_postgres_env_override_reuses_server(pg, monkeypatch):
    monkeypatch.setenv(POSTGRES_URL_ENV, pg.url)
    ext = start_postgres("unused-because-external")
    assert ext.external
    url = ext.create_database("selftest_external")
    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "selftest_external"
    ext.stop()  # drops what it created, never stops the server
    ext.stop()
    with psycopg.connect(pg.url, connect_timeout=10) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    assert "selftest_external" not in names
    assert not os.path.exists("unused-because-external")


# --------------------------------------------------------------------------
# Redis


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def test_redis_kill_and_restart(tmp_path):
    svc = start_redis(tmp_path / "redis")
    try:
        assert svc.url == f"redis://127.0.0.1:{svc.port}/0" or svc.external
        client = _client(svc.url)
        assert client.ping() is True
        client.set("k", "v")
        assert client.get("k") == b"v"
        if svc.external:
            pytest.skip(f"{REDIS_URL_ENV} is set: cannot kill/restart an external Redis")

        port = svc.port
        svc.kill()
        assert not svc.ping()
        with pytest.raises(redis.exceptions.ConnectionError):
            _client(svc.url).ping()

        svc.restart()
        assert svc.port == port
        client = _client(svc.url)
        assert client.ping() is True
        assert client.get("k") is None  # no persistence
    finally:
        svc.stop()
        svc.stop()
    assert not svc.ping()


def test_redis_env_override(tmp_path, monkeypatch):
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    local = start_redis(tmp_path / "redis")
    try:
        monkeypatch.setenv(REDIS_URL_ENV, local.url)
        ext = start_redis(tmp_path / "unused")
        assert ext.external and ext.url == local.url
        assert _client(ext.url).ping() is True
        with pytest.raises(ServiceError):
            ext.kill()
        ext.stop()  # never stops the server
        assert local.ping()
    finally:
        local.stop()


# --------------------------------------------------------------------------
# Chromium


def _chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.fail("chromium not installed; run: scripts/install-system-deps.sh browser", pytrace=False)
    return path


@pytest.mark.browser
def test_find_chromium():
    path = _chromium()
    assert os.path.isfile(path) and os.access(path, os.X_OK)


@pytest.mark.browser
def test_chromium_headless_dump_dom():
    path = _chromium()
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [path, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--dump-dom", "data:text/html,<p id=x>hello</p>"],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '<p id="x">hello</p>' in proc.stdout
