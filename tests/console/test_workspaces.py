"""Creating, renaming and switching workspaces."""
from ethergate.accounts.models import AuditEvent, Membership, Workspace
from ethergate.billing.models import CreditAccount
from ethergate.extensions import db


def audit_actions(workspace_id):
    return [e.action for e in db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.workspace_id == workspace_id).order_by(AuditEvent.id))]


def test_first_workspace_after_signup(client, auth):
    auth.signup("first@example.com")
    page = client.get("/console/workspaces/new").get_data(as_text=True)
    assert 'value="My project"' in page
    response = client.submit("/console/workspaces/new", {"name": "Launch Team"}, page="/console/workspaces/new")
    assert response.status_code == 303
    workspace = db.session.scalar(db.select(Workspace).where(Workspace.name == "Launch Team"))
    assert response.headers["Location"] == f"/console/w/{workspace.slug}/"
    member = db.session.scalar(db.select(Membership).where(Membership.workspace_id == workspace.id))
    assert member.role == "owner"
    assert audit_actions(workspace.id) == ["workspace.created"]
    account = db.session.get(CreditAccount, workspace.id)  # billing opened it with the workspace
    assert (account.balance_micro, account.held_micro) == (0, 0)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Workspace Launch Team created." in page


def test_workspace_name_is_required(client, owner):
    response = client.submit("/console/workspaces/new", {"name": "  "}, page="/console/workspaces/new")
    assert response.status_code == 422
    assert "Give the workspace a name." in response.get_data(as_text=True)


def test_rename_by_form_and_by_htmx_component(client, owner):
    url = f"/console/w/{owner.slug}/settings/name"
    response = client.submit(url, {"name": "Acme Labs"})
    assert response.status_code == 303 and response.headers["Location"] == f"/console/w/{owner.slug}/settings"
    response = client.htmx_post(url, {"name": "Acme Research"}, target="workspace-name")
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<form id="workspace-name"')
    assert '<details class="switcher" id="workspace-switcher" hx-swap-oob="true">' in fragment
    assert '<strong id="current-workspace-name">Acme Research</strong>' in fragment
    assert 'id="flash"' in fragment and "hx-swap-oob" in fragment and "Workspace renamed." in fragment
    assert "Vary" in response.headers and "HX-Request" in response.headers["Vary"]
    db.session.refresh(owner.workspace)
    assert owner.workspace.name == "Acme Research" and owner.workspace.slug == owner.slug
    assert audit_actions(owner.workspace.id)[-2:] == ["workspace.renamed", "workspace.renamed"]
    response = client.htmx_post(url, {"name": "x" * 121}, target="workspace-name")
    assert response.status_code == 422 and "HX-Retarget" not in response.headers


def test_member_cannot_rename(client, auth, factories, join):
    workspace = factories.workspace()
    user = join(workspace, "member")
    auth.login(user.email)
    assert client.submit(f"/console/w/{workspace.slug}/settings/name", {"name": "Mine"}).status_code == 403
    page = client.get(f"/console/w/{workspace.slug}/settings").get_data(as_text=True)
    assert "Owners and admins can rename the workspace." in page


def test_switcher_lists_my_workspaces_and_console_remembers_the_last(client, owner, factories):
    second = factories.workspace(owner=owner.user, name="Zeta")
    factories.workspace(name="Not mine")
    page = client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    assert f'href="/console/w/{second.slug}/"' in page and "Acme" in page
    assert "Not mine" not in page
    assert client.get("/console/").headers["Location"] == f"/console/w/{owner.slug}/"
    client.get(f"/console/w/{second.slug}/members")
    assert client.get("/console/").headers["Location"] == f"/console/w/{second.slug}/"


def test_nav_links_only_to_pages_that_exist(client, owner):
    page = client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    assert f'href="/console/w/{owner.slug}/members"' in page
    assert f'href="/console/w/{owner.slug}/settings"' in page
    from flask import current_app
    for endpoint, label in (("keys.index", ">Keys<"), ("usage.index", ">Usage<")):
        if endpoint not in current_app.view_functions:
            assert label not in page


def test_admins_set_the_low_balance_threshold_and_the_keys_default_rate(client, owner, factories):
    from ethergate.accounts.models import Workspace
    from ethergate.extensions import db
    issued = factories.key(owner.workspace, name="no own limit")
    url = f"/console/w/{owner.slug}/settings/limits"
    page = client.get(f"/console/w/{owner.slug}/settings").get_data(as_text=True)
    assert 'id="workspace-limits"' in page and "Default requests per minute for keys" in page
    bad = client.htmx_post(url, {"low_balance": "ten", "default_rpm": "0"}, target="workspace-limits")
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Enter an amount such as 5 or 12.50" in body and "Between 1 and" in body
    saved = client.htmx_post(url, {"low_balance": "25", "default_rpm": "120"}, target="workspace-limits")
    assert saved.status_code == 200 and "Saved." in saved.get_data(as_text=True)
    workspace = db.session.get(Workspace, owner.workspace.id)
    assert (workspace.low_balance_micro, workspace.default_rpm) == (25_000_000, 120)
    assert 'id="low-balance"' in client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    answer = client.get("/v1/models", headers={"Authorization": f"Bearer {issued.plaintext}"})
    assert answer.headers["X-RateLimit-Limit"] == "120"
    assert "120 rpm (default)" in client.get(f"/console/w/{owner.slug}/keys/").get_data(as_text=True)
    cleared = client.htmx_post(url, {"low_balance": "", "default_rpm": ""}, target="workspace-limits")
    assert cleared.status_code == 200
    workspace = db.session.get(Workspace, owner.workspace.id)
    assert (workspace.low_balance_micro, workspace.default_rpm) == (None, None)


def test_members_see_the_limits_but_cannot_change_them(client, auth, owner, join):
    member = join(owner.workspace, "member")
    auth.logout()
    auth.login(member.email)
    page = client.get(f"/console/w/{owner.slug}/settings").get_data(as_text=True)
    assert "Low-balance warning below" in page and 'id="workspace-limits"' not in page
    assert client.submit(f"/console/w/{owner.slug}/settings/limits", {"default_rpm": "5"}).status_code == 403


def test_staff_without_a_workspace_land_on_support_and_see_its_link(client, auth, factories):
    staff = factories.user("staff@ethergate.example", staff=True)
    auth.login(staff.email)
    response = client.get("/console/")
    assert response.status_code in (302, 303) and response.headers["Location"].endswith("/support/")
    page = client.get("/console/workspaces/new").get_data(as_text=True)
    assert 'id="staff-support-link"' in page and 'href="/support/"' in page


def test_signing_up_counts_as_signing_in_for_support(client, auth, factories):
    from ethergate.accounts.services import find_user
    auth.signup("fresh@example.com")
    assert find_user("fresh@example.com").last_login_at is not None
    staff = factories.user(staff=True)
    auth.logout()
    auth.login(staff.email)
    page = client.get("/support/?q=fresh@example.com").get_data(as_text=True)
    assert "fresh@example.com" in page and "never signed in" not in page
