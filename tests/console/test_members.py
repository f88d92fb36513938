"""Invitations, roles and removal; the last owner is never lost."""
import re

import pytest
from sqlalchemy import func

from ethergate.accounts.models import AuditEvent, Invitation, Membership, User
from ethergate.extensions import db
from ethergate.mail.models import OutboxMessage
from ethergate.timeutil import utcnow
from tests.console.conftest import PASSWORD


def role_of(workspace, user):
    return db.session.scalar(db.select(Membership.role).where(
        Membership.workspace_id == workspace.id, Membership.user_id == user.id))


def membership_id(workspace, user):
    return db.session.scalar(db.select(Membership.id).where(
        Membership.workspace_id == workspace.id, Membership.user_id == user.id))


INVITE_LINK_RE = re.compile(r'<code id="invite-url">(http[^<]+)</code>')


def invite_link(html: str) -> str:
    match = INVITE_LINK_RE.search(html)
    assert match, "no invite link shown"
    return match.group(1)


def test_invite_then_signup_by_the_link_joins(client, auth, owner):
    response = client.submit(f"/console/w/{owner.slug}/members/invite", {"email": "New@Example.com", "role": "admin"})
    assert response.status_code == 200  # the page itself, with the link to copy: no email was sent
    page = response.get_data(as_text=True)
    assert "This instance does not send email" in page and "Invitation sent" not in page
    link = invite_link(page)
    page = client.get(f"/console/w/{owner.slug}/members").get_data(as_text=True)
    assert "Pending invitations" in page and "new@example.com" in page
    assert 'id="invite-url"' not in page  # shown once
    auth.logout()
    landing = client.get(link.removeprefix("http://127.0.0.1:8000")).get_data(as_text=True)
    assert "Join Acme" in landing and "Create an account with new@example.com" in landing
    token = link.rsplit("/", 1)[-1]
    client.submit(f"/signup?invitation={token}", {"email": "new@example.com", "password": PASSWORD}, page="/signup")
    assert "You joined Acme." in client.get("/console/workspaces/new").get_data(as_text=True)
    response = client.get("/console/")
    assert response.headers["Location"] == f"/console/w/{owner.slug}/"
    assert client.get(response.headers["Location"]).status_code == 200
    invitation = db.session.scalar(db.select(Invitation).where(Invitation.email == "new@example.com"))
    assert invitation.accepted_at is not None
    member = db.session.scalar(db.select(Membership).where(Membership.workspace_id == owner.workspace.id,
                                                           Membership.role == "admin"))
    assert member.user.email == "new@example.com" and member.user.email_verified
    actions = [e.action for e in db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.workspace_id == owner.workspace.id))]
    assert "member.invited" in actions and "member.joined" in actions


def test_signup_without_the_link_joins_only_once_verified(client, auth, owner):
    client.submit(f"/console/w/{owner.slug}/members/invite", {"email": "new@example.com", "role": "member"})
    auth.logout()
    auth.signup("new@example.com")
    user = db.session.scalar(db.select(User).where(User.email == "new@example.com"))
    assert not user.email_verified and role_of(owner.workspace, user) is None
    body = db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == "verify_email")).one().body
    path = re.search(r"http://127.0.0.1:8000(/verify-email/\S+)", body).group(1)
    client.submit(path, page=path)
    assert role_of(owner.workspace, user) == "member"


def test_invite_existing_user_joins_on_next_login(client, auth, owner, factories):
    existing = factories.user(email="existing@example.com")
    existing.email_verified_at = utcnow()
    db.session.commit()
    client.submit(f"/console/w/{owner.slug}/members/invite", {"email": existing.email, "role": "member"})
    assert role_of(owner.workspace, existing) is None
    auth.logout()
    auth.login(existing.email)
    assert role_of(owner.workspace, existing) == "member"
    page = client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    assert "You joined Acme." in page


def test_invite_by_htmx_refreshes_the_members_block(client, owner):
    response = client.htmx_post(f"/console/w/{owner.slug}/members/invite", {"email": "a@example.com", "role": "member"},
                                target="members")
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="members"')
    assert "a@example.com" in fragment and "<html" not in fragment
    assert "The invitation for a@example.com is ready" in fragment  # flash, out-of-band
    assert 'id="invite-url"' in fragment
    response = client.htmx_post(f"/console/w/{owner.slug}/members/invite", {"email": owner.email, "role": "member"},
                                target="members")
    assert response.status_code == 422
    assert "is already a member of this workspace" in response.get_data(as_text=True)


def test_inviting_the_same_address_twice_says_so_and_resend_makes_a_new_link(client, owner):
    first = invite_link(client.submit(f"/console/w/{owner.slug}/members/invite",
                                      {"email": "a@example.com", "role": "member"}).get_data(as_text=True))
    again = client.submit(f"/console/w/{owner.slug}/members/invite", {"email": "A@example.com", "role": "admin"})
    assert again.status_code == 422
    assert "a@example.com already has a pending invitation" in again.get_data(as_text=True)
    assert db.session.scalar(db.select(func.count()).select_from(Invitation)) == 1
    invitation = db.session.scalar(db.select(Invitation))
    assert invitation.role == "member"
    resent = client.submit(f"/console/w/{owner.slug}/invitations/{invitation.id}/resend")
    second = invite_link(resent.get_data(as_text=True))
    assert second != first
    assert client.get(first.removeprefix("http://127.0.0.1:8000")).status_code == 404  # the old link is dead
    assert client.get(second.removeprefix("http://127.0.0.1:8000")).status_code == 200


def test_revoke_invitation(client, owner):
    client.submit(f"/console/w/{owner.slug}/members/invite", {"email": "a@example.com", "role": "member"})
    invitation_id = db.session.scalar(db.select(Invitation.id).where(Invitation.email == "a@example.com"))
    response = client.submit(f"/console/w/{owner.slug}/invitations/{invitation_id}/revoke")
    assert response.status_code == 303
    assert db.session.get(Invitation, invitation_id) is None


def test_change_role_and_remove(client, owner, join):
    colleague = join(owner.workspace, "member")
    mid = membership_id(owner.workspace, colleague)
    response = client.htmx_post(f"/console/w/{owner.slug}/members/{mid}/role", {"role": "admin"}, target=f"member-{mid}")
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith(f'<li class="row" id="member-{mid}"')
    assert role_of(owner.workspace, colleague) == "admin"
    response = client.htmx_post(f"/console/w/{owner.slug}/members/{mid}/remove", target=f"member-{mid}")
    assert response.status_code == 200
    assert role_of(owner.workspace, colleague) is None
    actions = [e.action for e in db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.workspace_id == owner.workspace.id).order_by(AuditEvent.id))]
    assert actions[-2:] == ["member.role_changed", "member.removed"]


def test_last_owner_cannot_be_demoted_or_removed(client, owner):
    mid = membership_id(owner.workspace, owner.user)
    response = client.htmx_post(f"/console/w/{owner.slug}/members/{mid}/role", {"role": "admin"}, target=f"member-{mid}")
    assert response.status_code == 422
    assert "at least one owner" in response.get_data(as_text=True)
    response = client.htmx_post(f"/console/w/{owner.slug}/members/{mid}/remove", target=f"member-{mid}")
    assert response.status_code == 422
    assert role_of(owner.workspace, owner.user) == "owner"


def test_with_two_owners_one_may_step_down(client, owner, join):
    join(owner.workspace, "owner")
    mid = membership_id(owner.workspace, owner.user)
    client.submit(f"/console/w/{owner.slug}/members/{mid}/role", {"role": "admin"})
    assert role_of(owner.workspace, owner.user) == "admin"


def test_admin_cannot_touch_owners_or_make_owners(client, auth, factories, join):
    workspace = factories.workspace()
    owner_mid = db.session.scalar(db.select(Membership.id).where(Membership.workspace_id == workspace.id))
    admin = join(workspace, "admin")
    member = join(workspace, "member")
    auth.login(admin.email)
    base = f"/console/w/{workspace.slug}/members"
    response = client.submit(f"{base}/{owner_mid}/remove")
    assert response.status_code == 303 and db.session.get(Membership, owner_mid) is not None
    client.submit(f"{base}/{membership_id(workspace, member)}/role", {"role": "owner"})
    assert role_of(workspace, member) == "member"
    response = client.submit(f"{base}/invite", {"email": "boss@example.com", "role": "owner"})
    assert response.status_code == 422
    client.submit(f"{base}/{membership_id(workspace, member)}/role", {"role": "admin"})
    assert role_of(workspace, member) == "admin"


@pytest.mark.parametrize("action", ["invite", "role", "remove", "revoke"])
def test_member_cannot_manage_members(client, auth, factories, join, action):
    workspace = factories.workspace()
    member = join(workspace, "member")
    other = join(workspace, "member")
    other_mid = membership_id(workspace, other)
    db.session.add(Invitation(workspace_id=workspace.id, email="x@example.com", role="member"))
    db.session.commit()
    invitation_id = db.session.scalar(db.select(Invitation.id))
    auth.login(member.email)
    base = f"/console/w/{workspace.slug}"
    url, data = {
        "invite": (f"{base}/members/invite", {"email": "y@example.com", "role": "member"}),
        "role": (f"{base}/members/{other_mid}/role", {"role": "admin"}),
        "remove": (f"{base}/members/{other_mid}/remove", {}),
        "revoke": (f"{base}/invitations/{invitation_id}/revoke", {}),
    }[action]
    assert client.submit(url, data).status_code == 403
    assert role_of(workspace, other) == "member"
    page = client.get(f"{base}/members").get_data(as_text=True)
    assert "Invite someone" not in page and other.email in page


def test_member_may_leave(client, auth, factories, join):
    workspace = factories.workspace()
    member = join(workspace, "member")
    auth.login(member.email)
    response = client.submit(f"/console/w/{workspace.slug}/members/{membership_id(workspace, member)}/remove")
    assert response.status_code == 303 and response.headers["Location"] == "/console/"
    assert role_of(workspace, member) is None
    assert client.get(f"/console/w/{workspace.slug}/").status_code == 404


def test_ids_from_another_workspace_are_404(client, owner, factories, join):
    elsewhere = factories.workspace()
    stranger = join(elsewhere, "member")
    stranger_mid = membership_id(elsewhere, stranger)
    db.session.add(Invitation(workspace_id=elsewhere.id, email="z@example.com", role="member"))
    db.session.commit()
    foreign_invitation = db.session.scalar(db.select(Invitation.id).where(Invitation.workspace_id == elsewhere.id))
    base = f"/console/w/{owner.slug}"
    assert client.submit(f"{base}/members/{stranger_mid}/role", {"role": "admin"}).status_code == 404
    assert client.submit(f"{base}/members/{stranger_mid}/remove").status_code == 404
    assert client.submit(f"{base}/invitations/{foreign_invitation}/revoke").status_code == 404
    assert client.submit(f"{base}/members/999999/role", {"role": "admin"}).status_code == 404
    assert role_of(elsewhere, stranger) == "member"
