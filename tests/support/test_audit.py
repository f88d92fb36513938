"""The audit log: owners see their own workspace's at /console/w/<slug>/audit; staff see every one."""
from __future__ import annotations

import pytest

from ethergate.accounts.services import record_audit
from ethergate.billing import codes, grants
from ethergate.extensions import db
from ethergate.keys.services import create_key, revoke_key
from ethergate.money import parse_amount


@pytest.fixture
def other(factories):
    """Another customer's workspace with its own audited actions."""
    workspace = factories.workspace(name="Globex")
    create_key(workspace.id, "globex secret key", actor="cli")
    return workspace


def audit_path(slug: str, **query) -> str:
    return f"/console/w/{slug}/audit" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_owner_sees_their_workspace_events_only(client, owner, other, join, factories):
    issued = create_key(owner.workspace.id, "deploy bot", actor=owner.user)
    revoke_key(issued.key.id, actor=owner.user)
    join(owner.workspace, "admin")
    staff = factories.user(staff=True)
    grants.adjust(owner.workspace.id, parse_amount("1.50"), staff, "outage credit")
    response = client.get(audit_path(owner.slug))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    for text in ("API key created", "API key revoked", issued.key.prefix, "deploy bot", f"by {owner.email}",
                 "Balance adjusted by staff", "¥1.50", "outage credit", f"by {staff.email}"):
        assert text in html, text
    assert "globex secret key" not in html and "Globex" not in html


def test_filter_by_action_and_fragment_swap(client, owner):
    create_key(owner.workspace.id, "one", actor=owner.user)
    client.submit(f"/console/w/{owner.slug}/members/invite", {"email": "new@example.com", "role": "member"},
                  page=f"/console/w/{owner.slug}/members")
    html = client.get(audit_path(owner.slug, action="member.invited")).get_data(as_text=True)
    assert "Member invited" in html and "new@example.com" in html and "API key created</strong>" not in html
    assert '<option value="key.created">API key created</option>' in html  # every action present is offered
    fragment = client.htmx_get(audit_path(owner.slug, action="key.created"), target="events")
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and body.lstrip().startswith('<div id="events"') and "<html" not in body
    assert "API key created</strong>" in body and "new@example.com" not in body


def test_pages_of_fifty_newest_first(client, owner):
    for number in range(55):
        record_audit("key.updated", actor=owner.user, workspace_id=owner.workspace.id, target=f"cr_{number:05d}",
                     details={"changes": {"name": ["a", "b"]}})
    db.session.commit()
    first = client.get(audit_path(owner.slug)).get_data(as_text=True)
    assert "cr_00054" in first and "cr_00005" in first and "cr_00004" not in first and "Older" in first
    second = client.get(audit_path(owner.slug, page=2)).get_data(as_text=True)
    assert "cr_00004" in second and "cr_00000" in second and "Newer" in second
    assert "changed: name" in second


@pytest.mark.parametrize("role", ["admin", "member"])
def test_admins_and_members_are_told_it_is_for_owners_and_get_no_nav_entry(client, auth, factories, join, role):
    owner_user = factories.user()
    workspace = factories.workspace(owner=owner_user, name="Initech")
    user = join(workspace, role)
    auth.login(user.email)
    refused = client.get(audit_path(workspace.slug))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 403 and "Owners only" in page and owner_user.email in page
    assert "audit-event" not in page
    assert "Audit log" not in client.get(f"/console/w/{workspace.slug}/").get_data(as_text=True)


def test_owner_has_the_nav_entry(client, owner):
    html = client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    assert f'href="/console/w/{owner.slug}/audit"' in html


def test_staff_who_are_not_members_use_the_support_console(client, owner, other, auth, factories):
    create_key(owner.workspace.id, "acme key", actor=owner.user)
    codes.create_code(5_000_000, note="trial", created_by=factories.user(staff=True))
    staff = factories.user(staff=True)
    auth.logout()
    auth.login(staff.email)
    assert client.get(audit_path(owner.slug)).status_code == 404  # the owners' page is for members

    everything = client.get("/support/audit").get_data(as_text=True)
    for text in ("acme key", "globex secret key", "Redemption code created", "Acme", "Globex", "no workspace"):
        assert text in everything, text
    one = client.get(f"/support/audit?workspace={owner.slug}").get_data(as_text=True)
    assert "acme key" in one and "globex secret key" not in one and "Redemption code created</strong>" not in one
    outside = client.get("/support/audit?workspace=-").get_data(as_text=True)
    assert "Redemption code created" in outside and "acme key" not in outside
    assert client.get("/support/audit?workspace=no-such").status_code == 404
    filtered = client.get(f"/support/audit?workspace={owner.slug}&action=workspace.created")
    assert "API key created</strong>" not in filtered.get_data(as_text=True)


def test_pages_are_translated(client, owner, factories, auth):
    create_key(owner.workspace.id, "deploy bot", actor=owner.user)
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    html = client.get(audit_path(owner.slug)).get_data(as_text=True)
    assert "审计日志" in html and "创建了 API 密钥" in html and "全部操作" in html
    staff = factories.user(staff=True)
    auth.logout()
    auth.login(staff.email)
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    html = client.get(f"/support/workspaces/{owner.slug}").get_data(as_text=True)
    assert "调整余额" in html and "最近的账本记录" in html and "兑换码" in html
    assert "没有请求、预占或账本记录的 ID 为" in client.get("/support/requests/nope").get_data(as_text=True)
