"""Configuration is validated at start with a one-line error."""
import subprocess
import sys

import pytest

from ethergate.settings import ConfigError, load_settings
from tests.conftest import ROOT, TEST_SECRET

BAD = [
    ("ETHERGATE_DATABASE_URL", "mysql://x", "ETHERGATE_DATABASE_URL"),
    ("ETHERGATE_SECRET_KEY", "short", "at least 32"),
    ("ETHERGATE_REDIS_URL", "http://localhost", "redis://"),
    ("ETHERGATE_QWEN_BASE_URL", "not a url", "ETHERGATE_QWEN_BASE_URL"),
    ("ETHERGATE_PUBLIC_BASE_URL", "ftp://x", "http(s) URL"),
    ("ETHERGATE_CURRENCY", "yuan", "three-letter"),
    ("ETHERGATE_MAX_BODY_BYTES", "lots", "whole number"),
    ("ETHERGATE_CONNECT_TIMEOUT", "-1", "greater than 0"),
    ("ETHERGATE_RATE_LIMIT_FAILURE_MODE", "maybe", "open, closed"),
    ("ETHERGATE_RATE_LIMIT_LEASE_SECONDS", "0", "between 0.05 and 10"),
    ("ETHERGATE_RATE_LIMIT_LEASE_PERCENT", "25", "between 0 and 10"),
    ("ETHERGATE_RATE_LIMIT_LEASE_PERCENT", "some", "expected a number"),
    ("ETHERGATE_CATALOG_PATH", "/nonexistent/catalog.toml", "no such file"),
    ("ETHERGATE_DATABASE_POOL_SIZE", "0", "ETHERGATE_DATABASE_POOL_SIZE"),
]


@pytest.mark.parametrize("name,value,expected", BAD)
def test_bad_values_raise_one_line(name, value, expected, tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings({name: value}, str(tmp_path))
    message = str(info.value)
    assert expected in message and name in message and "\n" not in message


def test_defaults(tmp_path):
    cfg = load_settings({}, str(tmp_path))
    assert cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///") and str(tmp_path) in cfg["SQLALCHEMY_DATABASE_URI"]
    assert cfg["CURRENCY"] == "CNY"
    assert cfg["MAX_BODY_BYTES"] == 16 * 1024 * 1024
    assert cfg["PROVIDER_KEYS"] == {"deepseek": None, "qwen": None, "moonshot": None}
    assert cfg["DATABASE_POOL_SIZE"] == 60
    assert cfg["GROUP_COMMIT"] is True
    assert load_settings({"ETHERGATE_GROUP_COMMIT": "false"}, str(tmp_path))["GROUP_COMMIT"] is False
    assert (cfg["RATE_LIMIT_LEASE_SECONDS"], cfg["RATE_LIMIT_LEASE_PERCENT"]) == (1.0, 2.0)


def test_postgres_pool_keeps_its_connections(tmp_path):
    from ethergate import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://eg@127.0.0.1:1/eg", "SECRET_KEY": TEST_SECRET,
                      "DATABASE_POOL_SIZE": 7})
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert (options["pool_size"], options["max_overflow"]) == (7, 0)


def test_sqlite_pool_reuses_its_last_connection(tmp_path):
    from ethergate import create_app
    from ethergate.extensions import db
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/eg.db", "SECRET_KEY": TEST_SECRET})
    with app.app_context():
        first, second = db.engine.raw_connection(), db.engine.raw_connection()
        first_dbapi, second_dbapi = first.dbapi_connection, second.dbapi_connection
        first.close()
        second.close()
        again = db.engine.raw_connection()
        assert again.dbapi_connection is second_dbapi is not first_dbapi  # its page cache is the warm one
        again.close()
        db.engine.dispose()


def test_a_server_leaves_sqlite_checkpoints_to_its_thread(tmp_path):
    from ethergate import create_app
    from ethergate.database import AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES, leave_checkpoints_to_thread
    from ethergate.extensions import db

    def pragmas():
        with db.engine.connect() as connection:
            return tuple(connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                         for name in ("wal_autocheckpoint", "journal_size_limit"))

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/eg.db", "SECRET_KEY": TEST_SECRET})
    with app.app_context():
        assert pragmas() == (1000, WAL_SIZE_LIMIT_BYTES)  # a CLI command or a test: SQLite's own checkpoints
        assert leave_checkpoints_to_thread(db.engine)
        assert pragmas() == (AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES)  # pooled connections too
        db.engine.dispose()
    memory = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": TEST_SECRET})
    with memory.app_context():
        assert not leave_checkpoints_to_thread(db.engine)


def test_postgres_url_gets_the_gevent_aware_driver(tmp_path):
    cfg = load_settings({"ETHERGATE_DATABASE_URL": "postgresql://u@localhost/db"}, str(tmp_path))
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@localhost/db"


def run_wsgi(env_extra: dict) -> subprocess.CompletedProcess:
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETHERGATE_")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_missing_secret_key_stops_start_with_one_line():
    result = run_wsgi({})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "ETHERGATE_SECRET_KEY" in result.stderr


def test_bad_value_stops_start_with_one_line():
    result = run_wsgi({"ETHERGATE_SECRET_KEY": TEST_SECRET, "ETHERGATE_CURRENCY": "12"})
    assert result.returncode == 2
    assert "ETHERGATE_CURRENCY" in result.stderr and result.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("raw", ["https://gw.example/v1", "https://gw.example/v1/", "https://gw.example/V1",
                                 "https://gw.example"])
def test_public_base_url_drops_a_trailing_v1(raw, tmp_path):
    cfg = load_settings({"ETHERGATE_PUBLIC_BASE_URL": raw}, str(tmp_path))
    assert cfg["PUBLIC_BASE_URL"] == "https://gw.example"
    assert cfg["PUBLIC_BASE_URL_FROM_BIND"] is False


def test_public_base_url_keeps_a_path_prefix(tmp_path):
    cfg = load_settings({"ETHERGATE_PUBLIC_BASE_URL": "https://example.com/gateway/v1"}, str(tmp_path))
    assert cfg["PUBLIC_BASE_URL"] == "https://example.com/gateway"


@pytest.mark.parametrize("host,port,url", [("127.0.0.1", 8123, "http://127.0.0.1:8123"),
                                           ("0.0.0.0", 8000, "http://127.0.0.1:8000"),
                                           ("::", 9000, "http://[::1]:9000"),
                                           ("gw.lan", 80, "http://gw.lan:80")])
def test_unset_public_base_url_follows_the_bind_address(host, port, url, tmp_path):
    from ethergate.settings import public_base_url_for
    assert load_settings({}, str(tmp_path))["PUBLIC_BASE_URL_FROM_BIND"] is True
    assert public_base_url_for(host, port) == url


def start_wsgi(port: int, env_extra: dict) -> subprocess.Popen:
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETHERGATE_")}
    env.update({"ETHERGATE_SECRET_KEY": TEST_SECRET, **env_extra})
    return subprocess.Popen([sys.executable, "wsgi.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def served_install_script(tmp_path, **env) -> tuple[int, str]:
    import requests

    from tests.services import free_port
    port = free_port()
    server = start_wsgi(port, {"ETHERGATE_DATABASE_URL": f"sqlite:///{tmp_path}/eg.sqlite3", **env})
    try:
        assert "listening on" in server.stdout.readline()
        script = requests.get(f"http://127.0.0.1:{port}/console/skills/ethergate-provider/install.sh", timeout=10)
        script.raise_for_status()
        return port, script.text
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_installers_point_at_the_port_the_server_listens_on(tmp_path):
    port, script = served_install_script(tmp_path)
    assert f"http://127.0.0.1:{port}" in script and "127.0.0.1:8000" not in script


def test_installers_never_call_v1_v1(tmp_path):
    _port, script = served_install_script(tmp_path, ETHERGATE_PUBLIC_BASE_URL="https://gw.example/v1")
    assert "https://gw.example" in script and "/v1/v1" not in script


def test_a_port_in_use_stops_start_with_one_line(tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = start_wsgi(port, {"ETHERGATE_DATABASE_URL": f"sqlite:///{tmp_path}/eg.sqlite3"})
        out, err = server.communicate(timeout=60)
    assert server.returncode == 2
    assert err.strip().count("\n") == 0, err
    assert f"127.0.0.1:{port}" in err and "already in use" in err
