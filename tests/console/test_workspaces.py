"""Creating, renaming and switching workspaces."""
from ethergate.accounts.models import AuditEvent, Membership, Workspace
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
