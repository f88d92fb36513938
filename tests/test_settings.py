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


def test_postgres_pool_keeps_its_connections(tmp_path):
    from ethergate import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://eg@127.0.0.1:1/eg", "SECRET_KEY": TEST_SECRET,
                      "DATABASE_POOL_SIZE": 7})
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert (options["pool_size"], options["max_overflow"]) == (7, 0)


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
