"""Every action that changes something writes an audit row, whoever does it: console, CLI or staff."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from ethergate.accounts.models import AuditEvent
from ethergate.billing import codes, grants, stripe_checkout
from ethergate.console import services as console
from ethergate.extensions import db
from ethergate.keys import services as keys
from tests.billing.stripe_helpers import WEBHOOK_SECRET, fake_stripe, session_event, signed, start  # noqa: F401


def last_id() -> int:
    return db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0


def labelled(after: int) -> list[tuple[str, str]]:
    """(action, actor) of the rows written since `after` (the test database may start with a catalog sync)."""
    return [tuple(row) for row in db.session.execute(
        select(AuditEvent.action, AuditEvent.actor_label).where(AuditEvent.id > after).order_by(AuditEvent.id))]


def actions(workspace_id=None) -> list[str]:
    query = select(AuditEvent.action).order_by(AuditEvent.id)
    if workspace_id is not None:
        query = query.where(AuditEvent.workspace_id == workspace_id)
    return list(db.session.scalars(query))


def test_console_key_member_and_credit_actions_are_audited(app, factories):
    owner_user = factories.user()
    workspace = console.new_workspace(owner_user, "Acme")
    [owner] = console.members_of(workspace)
    console.rename_workspace(workspace, "Acme Inc", owner)
    invited = factories.user()
    invited.email_verified_at = invited.created_at  # invitations join verified addresses only
    console.invite(workspace, invited.email, "member", owner)
    console.record_sign_in(invited)
    joined = next(m for m in console.members_of(workspace) if m.user_id == invited.id)
    console.change_role(workspace, joined.id, "admin", owner)
    console.invite(workspace, "later@example.com", "member", owner)
    pending = console.pending_invitations(workspace)[0]
    console.revoke_invitation(workspace, pending.id, owner)
    console.remove_member(workspace, joined.id, owner)

    issued = keys.create_key(workspace.id, "ci", actor=owner_user)
    keys.update_key(issued.key.id, rpm_limit=30, actor=owner_user, workspace_id=workspace.id)
    rotated = keys.rotate_key(issued.key.id, 60, actor=owner_user, workspace_id=workspace.id)
    keys.revoke_key(rotated.key.id, actor=owner_user, workspace_id=workspace.id)

    staff = factories.user(staff=True)
    grants.grant(workspace.id, 5_000_000, staff, "trial")
    grants.adjust(workspace.id, -1_000_000, staff, "correction")
    _code, plaintext = codes.create_code(2_000_000, note="voucher", created_by=staff)
    codes.redeem_code(workspace.id, plaintext, owner_user)

    assert actions(workspace.id) == [
        "workspace.created", "workspace.renamed", "member.invited", "member.joined", "member.role_changed",
        "member.invited", "invitation.revoked", "member.removed", "key.created", "key.updated", "key.rotated",
        "key.revoked", "credits.grant", "credits.adjustment", "code.redeemed"]
    assert "code.created" in actions()


def test_cli_actions_are_audited_as_cli(app, factories):
    runner, before = app.test_cli_runner(), last_id()
    assert runner.invoke(args=["admin", "create-user", "ops@example.com", "--password", "longenough"]).exit_code == 0
    slug = runner.invoke(args=["admin", "create-workspace", "Ops", "--owner", "ops@example.com"]).output.strip()
    for args in (["grant-credits", slug, "5"], ["adjust", slug, "-1", "--note", "fix"], ["create-key", slug]):
        assert runner.invoke(args=["admin", *args]).exit_code == 0, args
    assert labelled(before) == [
        ("user.created", "cli"), ("workspace.created", "cli"), ("credits.grant", "cli"),
        ("credits.adjustment", "cli"), ("key.created", "cli")]


def test_console_sign_up_is_audited(app):
    user, _joined = console.sign_up("new@example.com", "correct horse battery")
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created",
                                                      AuditEvent.target == user.email)) is not None


def test_card_top_up_is_audited(app, factories, fake_stripe):  # noqa: F811
    app.config.update(STRIPE_SECRET_KEY="sk_test_123", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                      STRIPE_API_BASE=fake_stripe.url)
    provider = stripe_checkout.payment_provider(app)
    workspace = factories.workspace()
    session = start(provider, workspace)
    result = provider.handle_webhook(*signed(session_event("evt_1", "checkout.session.completed", session,
                                                           payment_status="paid", status="complete")))
    assert result.credited
    assert "credits.topup" in actions(workspace.id)


def test_cli_codes_are_attributed_to_the_cli(app, factories):
    workspace = factories.workspace()
    runner, before = app.test_cli_runner(), last_id()
    plaintext = runner.invoke(args=["admin", "create-code", "5", "--note", "x"]).output.strip()
    assert runner.invoke(args=["admin", "redeem-code", workspace.slug, plaintext]).exit_code == 0
    assert labelled(before) == [("code.created", "cli"), ("code.redeemed", "cli")]


def test_catalog_sync_that_changes_models_is_audited(app, tmp_path):
    from ethergate.catalog.sync import SHIPPED_CATALOG
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(SHIPPED_CATALOG.read_text().replace('name = "Qwen Plus"', 'name = "Qwen Plus (renamed)"', 1))
    result = app.test_cli_runner().invoke(args=["catalog", "sync", "--path", str(catalog)])
    assert result.exit_code == 0 and "1 updated" in result.output
    assert "catalog.synced" in actions()
