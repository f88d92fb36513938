"""ETHERGATE_SMTP_*: validated at start, one clear line per bad value; unset means the outbox only."""
import subprocess
import sys

import pytest

from ethergate.settings import ConfigError, load_settings
from tests.conftest import ROOT, TEST_SECRET


def smtp(**env):
    return load_settings({f"ETHERGATE_SMTP_{k}": v for k, v in env.items()}, "/nonexistent")


def test_unset_means_no_smtp():
    assert smtp()["SMTP_HOST"] is None


def test_defaults_follow_the_security_mode():
    cfg = smtp(HOST="mail.example.com", FROM="EtherGate <noreply@example.com>")
    assert (cfg["SMTP_PORT"], cfg["SMTP_SECURITY"], cfg["SMTP_TIMEOUT"]) == (587, "starttls", 10.0)
    assert smtp(HOST="mail.example.com", FROM="noreply@example.com", SECURITY="TLS")["SMTP_PORT"] == 465
    assert smtp(HOST="mail.example.com", FROM="noreply@example.com", SECURITY="none")["SMTP_PORT"] == 25


@pytest.mark.parametrize("env, message", [
    ({"PORT": "25"}, "ETHERGATE_SMTP_HOST: required when ETHERGATE_SMTP_PORT is set"),
    ({"HOST": "m.example.com"}, "ETHERGATE_SMTP_FROM: required when ETHERGATE_SMTP_HOST is set"),
    ({"HOST": "m.example.com", "FROM": "not an address"}, "ETHERGATE_SMTP_FROM: expected an email address"),
    ({"HOST": "m.example.com", "FROM": "a@example.com", "PORT": "70000"}, "ETHERGATE_SMTP_PORT: must be between"),
    ({"HOST": "m.example.com", "FROM": "a@example.com", "PORT": "smtp"}, "ETHERGATE_SMTP_PORT: expected a whole"),
    ({"HOST": "m.example.com", "FROM": "a@example.com", "SECURITY": "ssl3"}, "ETHERGATE_SMTP_SECURITY: expected one of"),
    ({"HOST": "m.example.com", "FROM": "a@example.com", "USERNAME": "u"}, "set both or neither"),
    ({"HOST": "m.example.com", "FROM": "a@example.com", "TIMEOUT": "0"}, "ETHERGATE_SMTP_TIMEOUT: must be greater"),
])
def test_bad_values_are_one_clear_line(env, message):
    with pytest.raises(ConfigError) as error:
        smtp(**env)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_server_refuses_to_start_on_a_bad_value(tmp_path):
    env = {"ETHERGATE_SECRET_KEY": TEST_SECRET, "ETHERGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
           "ETHERGATE_SMTP_HOST": "mail.example.com", "ETHERGATE_SMTP_FROM": "ops@example.com",
           "ETHERGATE_SMTP_SECURITY": "maybe", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "wsgi.py", "--port", "0"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("ethergate: configuration error: ETHERGATE_SMTP_SECURITY: expected one of "
                                     "starttls, tls, none, got 'maybe'")
