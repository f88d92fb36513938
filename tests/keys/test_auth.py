"""Authentication on the /v1 hot path: header parsing, one query, the per-process cache and its bounds."""
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from ethergate import create_app
from ethergate.extensions import db
from ethergate.keys import auth, services
from ethergate.keys.models import ApiKey
from ethergate.timeutil import utcnow
from tests.conftest import app_config


@pytest.fixture
def workspace(factories):
    return factories.workspace()


@contextmanager
def counting_queries():
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def selects(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Basic cr_" + "a" * 40, "cr_" + "a" * 40, "Bearer cr_" + "a" * 39,
    "Bearer cr_" + "a" * 41, "Bearer sk_" + "a" * 40, "Bearer cr_" + "a" * 39 + "!", "Bearer cr_" + "a" * 20 + " " + "a" * 19,
])
def test_malformed_headers_are_refused_without_touching_the_database(app, header):
    with counting_queries() as statements:
        assert auth.authenticate(header) is None
    assert statements == []


def test_scheme_is_case_insensitive_and_spaces_are_trimmed(factories, workspace):
    issued = factories.key(workspace)
    for header in (f"Bearer {issued.plaintext}", f"bearer {issued.plaintext}", f"  BEARER   {issued.plaintext}  "):
        key = auth.authenticate(header)
        assert key is not None and key.id == issued.key.id


def test_authenticated_key_carries_policy_and_effective_rpm(app, factories, workspace):
    with_limit = factories.key(workspace, rpm_limit=7, tpm_limit=5000, monthly_spend_cap_micro=3_000_000,
                               allowed_models=["qwen/qwen-plus"])
    key = auth.authenticate(f"Bearer {with_limit.plaintext}")
    assert (key.workspace_id, key.prefix, key.name, key.rpm_limit, key.tpm_limit, key.monthly_spend_cap_micro) == \
           (workspace.id, with_limit.key.prefix, "test key", 7, 5000, 3_000_000)
    assert key.allowed_models == frozenset({"qwen/qwen-plus"})

    app.config["DEFAULT_RPM"] = 33
    plain = factories.key(workspace)
    assert auth.authenticate(f"Bearer {plain.plaintext}").rpm_limit == 33

    workspace.default_rpm = 12
    db.session.commit()
    other = factories.key(workspace)
    assert auth.authenticate(f"Bearer {other.plaintext}").rpm_limit == 12


def test_one_query_then_cache_hits_do_no_database_work(factories, workspace):
    issued = factories.key(workspace)
    header = f"Bearer {issued.plaintext}"
    with counting_queries() as statements:
        assert auth.authenticate(header) is not None
    assert len(selects(statements)) == 1
    with counting_queries() as statements:
        for _ in range(50):
            assert auth.authenticate(header) is not None
    assert statements == []


def test_unknown_keys_are_refused_and_cached_too(app):
    header = "Bearer cr_" + "Z" * 40
    with counting_queries() as statements:
        assert auth.authenticate(header) is None
        assert auth.authenticate(header) is None
    assert len(selects(statements)) == 1


def test_revoking_in_this_process_takes_effect_on_the_next_request(app, factories, workspace):
    app.config["KEY_CACHE_SECONDS"] = 300
    issued = factories.key(workspace)
    header = f"Bearer {issued.plaintext}"
    assert auth.authenticate(header) is not None
    services.revoke_key(issued.key.id)
    assert auth.authenticate(header) is None


def test_updates_in_this_process_are_seen_at_once(app, factories, workspace):
    app.config["KEY_CACHE_SECONDS"] = 300
    issued = factories.key(workspace, rpm_limit=5)
    header = f"Bearer {issued.plaintext}"
    assert auth.authenticate(header).rpm_limit == 5
    services.update_key(issued.key.id, rpm_limit=9, allowed_models=["deepseek/deepseek-chat"])
    key = auth.authenticate(header)
    assert key.rpm_limit == 9 and key.allowed_models == frozenset({"deepseek/deepseek-chat"})


def test_grace_period_ends_on_time_even_while_cached(app, factories, workspace):
    app.config["KEY_CACHE_SECONDS"] = 300
    old = factories.key(workspace)
    services.rotate_key(old.key.id, grace_seconds=1)
    header = f"Bearer {old.plaintext}"
    assert auth.authenticate(header) is not None
    with counting_queries() as statements:
        assert auth.authenticate(header, now=utcnow() + timedelta(seconds=1.1)) is None
    assert statements == []


def test_expiry_is_checked_against_the_clock_on_every_call(app, factories, workspace):
    app.config["KEY_CACHE_SECONDS"] = 300
    issued = factories.key(workspace, expires_at=utcnow() + timedelta(seconds=1))
    header = f"Bearer {issued.plaintext}"
    assert auth.authenticate(header) is not None
    assert auth.authenticate(header, now=utcnow() + timedelta(seconds=1.1)) is None


def test_revocation_reaches_another_process_within_the_cache_time(app, database_url, factories, workspace):
    app.config["KEY_CACHE_SECONDS"] = 1.0
    other = create_app(app_config(database_url, KEY_CACHE_SECONDS=1.0))
    issued = factories.key(workspace)
    header = f"Bearer {issued.plaintext}"
    try:
        with other.app_context():
            assert auth.authenticate(header) is not None
            db.session.remove()
        assert auth.authenticate(header) is not None
        services.revoke_key(issued.key.id)
        assert auth.authenticate(header) is None
        with other.app_context():
            assert auth.authenticate(header) is not None  # still cached there, within the cache time
            assert auth.authenticate(header, clock=time.monotonic() + 1.1) is None
            db.session.remove()
    finally:
        with other.app_context():
            db.engine.dispose()


def test_allows_model_by_id_or_alias(factories, workspace):
    open_key = auth.authenticate(f"Bearer {factories.key(workspace).plaintext}")
    assert open_key.allows_model("anything/at-all")
    by_alias = factories.key(workspace, allowed_models=["deepseek/deepseek-v3"])
    key = auth.authenticate(f"Bearer {by_alias.plaintext}")
    assert key.allows_model("deepseek/deepseek-chat", aliases=("deepseek/deepseek-v3", "deepseek/deepseek-v3.2"))
    assert key.allows_model("deepseek/deepseek-v3")
    assert not key.allows_model("deepseek/deepseek-chat")
    assert not key.allows_model("qwen/qwen-plus", aliases=("qwen-plus",))


def test_cache_is_bounded():
    cache = auth._TTLCache(3)
    for n in range(5):
        cache.put(f"k{n}", n, now=0.0)
    assert len(cache) == 3
    assert cache.get("k0", ttl=10, now=1.0) == (False, None)
    assert cache.get("k2", ttl=10, now=1.0) == (True, 2)
    cache.put("k5", 5, now=1.0)
    assert cache.get("k2", ttl=10, now=1.0) == (True, 2)
    assert cache.get("k3", ttl=10, now=1.0) == (False, None)
    assert cache.get("k2", ttl=10, now=10.5) == (False, None)


def test_last_used_is_written_at_most_once_a_minute(app, factories, workspace):
    issued = factories.key(workspace)
    assert db.session.get(ApiKey, issued.key.id).last_used_at is None
    db.session.commit()
    with counting_queries() as statements:
        assert auth.touch_last_used(issued.key.id) is True
        for _ in range(20):
            assert auth.touch_last_used(issued.key.id) is False
    assert len([s for s in statements if s.lstrip().upper().startswith("UPDATE")]) == 1
    db.session.expire_all()
    assert db.session.get(ApiKey, issued.key.id).last_used_at is not None
