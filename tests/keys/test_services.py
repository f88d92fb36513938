"""Key service: issue, revoke, rotate with grace, update with validation, audit rows, no plaintext at rest."""
import hashlib
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text

from ethergate.accounts.models import AuditEvent
from ethergate.extensions import db
from ethergate.keys import services, tokens
from ethergate.keys.auth import authenticate
from ethergate.keys.models import ApiKey
from ethergate.keys.services import KeyNotFound, KeyPolicyError
from ethergate.timeutil import utcnow


@pytest.fixture
def workspace(factories):
    return factories.workspace()


def bearer(plaintext: str) -> str:
    return f"Bearer {plaintext}"


def audit_actions(workspace_id: int) -> list[str]:
    return list(db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.workspace_id == workspace_id).order_by(AuditEvent.id)))


def dump_database() -> str:
    connection = db.session.connection()
    chunks = []
    for table in inspect(connection).get_table_names():
        chunks.extend(repr(tuple(row)) for row in connection.execute(text(f'SELECT * FROM "{table}"')))
    db.session.commit()
    return "\n".join(chunks)


def test_issued_key_has_the_product_format_and_is_found_by_digest(workspace):
    issued = services.create_key(workspace.id, name="ci")
    assert re.fullmatch(r"cr_[A-Za-z0-9_-]{40}", issued.plaintext)
    assert issued.key.prefix == issued.plaintext[:8]
    assert issued.key.digest == hashlib.sha256(issued.plaintext.encode()).hexdigest()
    found = db.session.scalar(select(ApiKey).where(ApiKey.digest == tokens.digest_key(issued.plaintext)))
    assert found.id == issued.key.id
    assert audit_actions(workspace.id) == ["key.created"]


def test_plaintext_is_never_stored(workspace):
    first = services.create_key(workspace.id, name="first", allowed_models=["qwen/qwen-plus"])
    second = services.rotate_key(first.key.id, grace_seconds=60)
    services.update_key(second.key.id, name="renamed", rpm_limit=5)
    services.revoke_key(second.key.id)
    dump = dump_database()
    for plaintext in (first.plaintext, second.plaintext):
        assert plaintext not in dump
        assert plaintext[8:] not in dump
    assert first.key.digest in dump


def test_revoke_stops_the_key_and_is_audited_once(factories, workspace):
    user = factories.user()
    issued = services.create_key(workspace.id, name="to revoke")
    assert authenticate(bearer(issued.plaintext)) is not None
    services.revoke_key(issued.key.id, actor=user)
    assert authenticate(bearer(issued.plaintext)) is None
    services.revoke_key(issued.key.id, actor=user)
    assert audit_actions(workspace.id) == ["key.created", "key.revoked"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "key.revoked"))
    assert event.actor_user_id == user.id and event.target == issued.key.prefix
    assert event.details["key_id"] == issued.key.id
    assert db.session.get(ApiKey, issued.key.id).status(utcnow()) == "revoked"


def test_keys_of_another_workspace_are_not_found(factories, workspace):
    other = factories.workspace()
    issued = services.create_key(workspace.id)
    for call in (lambda: services.revoke_key(issued.key.id, workspace_id=other.id),
                 lambda: services.rotate_key(issued.key.id, workspace_id=other.id),
                 lambda: services.update_key(issued.key.id, name="x", workspace_id=other.id)):
        with pytest.raises(KeyNotFound):
            call()
    with pytest.raises(KeyNotFound):
        services.revoke_key(10_000_000)
    assert authenticate(bearer(issued.plaintext)) is not None


def test_rotate_copies_policy_and_keeps_old_key_for_the_grace_period(workspace):
    expires = utcnow() + timedelta(days=30)
    old = services.create_key(workspace.id, name="prod", rpm_limit=7, tpm_limit=9000,
                              monthly_spend_cap_micro=5_000_000, allowed_models=["qwen/qwen-plus"],
                              expires_at=expires)
    new = services.rotate_key(old.key.id, grace_seconds=1, actor="cli")
    assert new.plaintext != old.plaintext
    assert (new.key.name, new.key.rpm_limit, new.key.tpm_limit, new.key.monthly_spend_cap_micro,
            new.key.allowed_models, new.key.expires_at, new.key.rotated_from_id) == \
           ("prod", 7, 9000, 5_000_000, ["qwen/qwen-plus"], expires, old.key.id)
    assert db.session.get(ApiKey, old.key.id).status(utcnow()) == "rotating"
    assert authenticate(bearer(old.plaintext)) is not None
    assert authenticate(bearer(new.plaintext)) is not None
    time.sleep(1.2)
    assert authenticate(bearer(old.plaintext)) is None
    assert authenticate(bearer(new.plaintext)) is not None
    assert audit_actions(workspace.id) == ["key.created", "key.rotated"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "key.rotated"))
    assert event.actor_label == "cli" and event.details["new_key_id"] == new.key.id


def test_rotate_without_grace_stops_the_old_key_at_once(workspace):
    old = services.create_key(workspace.id)
    assert authenticate(bearer(old.plaintext)) is not None
    new = services.rotate_key(old.key.id)
    assert authenticate(bearer(old.plaintext)) is None
    assert authenticate(bearer(new.plaintext)) is not None


def test_rotate_refuses_revoked_keys_and_bad_grace(workspace):
    issued = services.create_key(workspace.id)
    for grace in (-1, services.MAX_GRACE_SECONDS + 1, True, "10"):
        with pytest.raises(KeyPolicyError, match="grace period"):
            services.rotate_key(issued.key.id, grace_seconds=grace)
    services.revoke_key(issued.key.id)
    with pytest.raises(KeyPolicyError, match="revoked"):
        services.rotate_key(issued.key.id)
    assert db.session.scalar(select(ApiKey.id).where(ApiKey.rotated_from_id == issued.key.id)) is None


def test_expired_keys_do_not_authenticate(workspace):
    issued = services.issue_key(workspace.id, expires_at=utcnow() - timedelta(seconds=1))
    db.session.commit()
    assert authenticate(bearer(issued.plaintext)) is None
    assert db.session.get(ApiKey, issued.key.id).status(utcnow()) == "expired"
    with pytest.raises(KeyPolicyError, match="expired"):
        services.rotate_key(issued.key.id)


def test_update_changes_only_given_fields_and_audits_the_difference(workspace):
    issued = services.create_key(workspace.id, name="before", rpm_limit=10, tpm_limit=1000)
    key = services.update_key(issued.key.id, name="after", rpm_limit=None,
                              allowed_models=["deepseek/deepseek-v3", "qwen/qwen-plus", "qwen/qwen-plus"])
    assert (key.name, key.rpm_limit, key.tpm_limit) == ("after", None, 1000)
    assert key.allowed_models == ["deepseek/deepseek-v3", "qwen/qwen-plus"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "key.updated"))
    assert event.details["changes"] == {
        "name": ["before", "after"], "rpm_limit": [10, None],
        "allowed_models": [None, ["deepseek/deepseek-v3", "qwen/qwen-plus"]]}
    services.update_key(issued.key.id, name="after")
    assert audit_actions(workspace.id) == ["key.created", "key.updated"]
    assert services.update_key(issued.key.id, allowed_models=[]).allowed_models is None


@pytest.mark.parametrize("change, message", [
    ({"name": "  "}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"rpm_limit": 0}, "rpm limit"),
    ({"rpm_limit": True}, "rpm limit"),
    ({"tpm_limit": 2.5}, "tpm limit"),
    ({"monthly_spend_cap_micro": -1}, "spend cap"),
    ({"allowed_models": ["qwen/qwen-plus", "openai/gpt-4o"]}, "unknown model: openai/gpt-4o"),
    ({"allowed_models": "qwen/qwen-plus"}, "list"),
    ({"allowed_models": [""]}, "non-empty"),
    ({"expires_at": "tomorrow"}, "date and time"),
])
def test_update_validation_errors_change_nothing(workspace, change, message):
    issued = services.create_key(workspace.id, name="stable", rpm_limit=10)
    with pytest.raises(KeyPolicyError, match=message):
        services.update_key(issued.key.id, **change)
    key = db.session.get(ApiKey, issued.key.id)
    assert (key.name, key.rpm_limit, key.allowed_models) == ("stable", 10, None)
    assert audit_actions(workspace.id) == ["key.created"]


def test_expiry_must_be_in_the_future_when_set_through_the_service(workspace):
    with pytest.raises(KeyPolicyError, match="future"):
        services.create_key(workspace.id, expires_at=utcnow() - timedelta(minutes=1))
    issued = services.create_key(workspace.id)
    with pytest.raises(KeyPolicyError, match="future"):
        services.update_key(issued.key.id, expires_at=utcnow())
    services.revoke_key(issued.key.id)
    with pytest.raises(KeyPolicyError, match="revoked"):
        services.update_key(issued.key.id, name="late")


def test_issue_key_rejects_unknown_models(workspace):
    with pytest.raises(KeyPolicyError, match="unknown model"):
        services.issue_key(workspace.id, allowed_models=["nobody/nothing"])
    db.session.rollback()


def test_list_keys_newest_first_with_revoked_ones(factories, workspace):
    first = services.create_key(workspace.id, name="one")
    second = services.create_key(workspace.id, name="two")
    services.revoke_key(first.key.id)
    services.create_key(factories.workspace().id, name="elsewhere")
    listed = services.list_keys(workspace.id)
    assert [k.name for k in listed] == ["two", "one"]
    assert [k.status(utcnow()) for k in listed] == ["active", "revoked"]
    assert listed[0].id == second.key.id


def test_revoking_during_a_grace_period_stops_the_old_key_now(workspace):
    old = services.create_key(workspace.id)
    new = services.rotate_key(old.key.id, grace_seconds=3600)
    assert authenticate(bearer(old.plaintext)) is not None
    services.revoke_key(old.key.id)
    assert authenticate(bearer(old.plaintext)) is None
    assert authenticate(bearer(new.plaintext)) is not None
    assert audit_actions(workspace.id) == ["key.created", "key.rotated", "key.revoked"]
