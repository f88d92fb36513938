"""The operator CLI round trip, as a script would drive it."""
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect, text

from ethergate.settings import parse_database_url
from tests.conftest import ROOT, TEST_SECRET, app_config


@pytest.fixture
def flask_cli_process(database_url):
    """`flask --app wsgi ARGS` in a child process, exactly as an operator's script runs it."""
    env = dict(os.environ, ETHERGATE_DATABASE_URL=database_url, ETHERGATE_SECRET_KEY=TEST_SECRET)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    return run


@pytest.fixture
def flask_cli(database_url):
    """The same commands in this process (a child costs ~1.5 s of imports each): exit code, stdout, stderr.

    An exception the command did not turn into an exit is raised here, so it fails the test."""
    from ethergate import create_app
    from ethergate.extensions import db

    app = create_app(app_config(database_url))
    runner = app.test_cli_runner()

    def run(*args: str) -> subprocess.CompletedProcess:
        result = runner.invoke(args=list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        with app.app_context():
            db.session.remove()
        return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)

    yield run
    with app.app_context():
        db.engine.dispose()


def dump_database(url: str) -> str:
    engine = create_engine(parse_database_url("url", url))
    chunks = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            chunks.extend(repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM "{table}"')))
    engine.dispose()
    return "\n".join(chunks)


def test_round_trip(flask_cli_process, flask_cli, database_url):
    # The commands whose output a script reads run as real processes; the rest in this process.
    assert flask_cli("admin", "create-user", "dev@example.com", "--password", "s3cret-pass").returncode == 0
    made = flask_cli_process("admin", "create-workspace", "Acme Labs", "--owner", "dev@example.com")
    assert made.returncode == 0
    slug = made.stdout.strip()
    assert slug == "acme-labs"
    opened = flask_cli("admin", "balance", slug)  # the credit account is opened with the workspace
    assert opened.returncode == 0 and opened.stdout.strip() == "0.00"
    assert flask_cli("admin", "grant-credits", slug, "12.50", "--note", "welcome").returncode == 0
    assert flask_cli("admin", "grant-credits", slug, "0.000001").returncode == 0
    balance = flask_cli("admin", "balance", slug)
    assert balance.returncode == 0 and balance.stdout.strip() == "12.500001"
    key = flask_cli_process("admin", "create-key", slug, "--name", "ci", "--rpm", "30")
    assert key.returncode == 0
    plaintext = key.stdout.strip()
    assert plaintext.startswith("cr_") and len(plaintext) >= 35 and "\n" not in plaintext
    dump = dump_database(database_url)
    assert plaintext not in dump and plaintext[3:] not in dump
    assert plaintext[:8] in dump  # the display prefix is kept


@pytest.mark.parametrize("args,message", [
    (("admin", "create-workspace", "X", "--owner", "nobody@example.com"), "unknown user"),
    (("admin", "grant-credits", "no-such-ws", "1"), "unknown workspace"),
    (("admin", "balance", "no-such-ws"), "unknown workspace"),
    (("admin", "create-key", "no-such-ws"), "unknown workspace"),
    (("admin", "create-user", "not-an-email", "--password", "longenough"), "not a valid email"),
    (("admin", "create-user", "a@example.com", "--password", "short"), "at least 8"),
])
def test_errors_are_one_line_and_non_zero(flask_cli, args, message):
    result = flask_cli(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("amount", ["abc", "1.2345678", "-5", "0", "1e3", "NaN", "1,000"])
def test_malformed_amounts_are_refused(flask_cli, amount):
    flask_cli("admin", "create-user", "o@example.com", "--password", "longenough")
    slug = flask_cli("admin", "create-workspace", "W", "--owner", "o@example.com").stdout.strip()
    result = flask_cli("admin", "grant-credits", slug, amount)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert flask_cli("admin", "balance", slug).stdout.strip() == "0.00"


def test_duplicate_email_is_refused(flask_cli):
    assert flask_cli("admin", "create-user", "d@example.com", "--password", "longenough").returncode == 0
    again = flask_cli("admin", "create-user", "D@example.com", "--password", "longenough")
    assert again.returncode != 0 and "already exists" in again.stderr


def test_retried_grant_with_idempotency_key_credits_once(flask_cli):
    flask_cli("admin", "create-user", "i@example.com", "--password", "longenough")
    slug = flask_cli("admin", "create-workspace", "W", "--owner", "i@example.com").stdout.strip()
    for _ in range(2):
        assert flask_cli("admin", "grant-credits", slug, "5", "--idempotency-key", "invoice-7").returncode == 0
    assert flask_cli("admin", "balance", slug).stdout.strip() == "5.00"
