"""Every console URL that names a workspace: 404 for non-members, the login page for anonymous visitors.

The URL list comes from the app's own url_map, so pages added later are swept too.
"""
import re

import pytest

from tests.conftest import TEST_SECRET


def workspace_routes() -> list[tuple[str, str]]:
    from ethergate import create_app
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        if "slug" not in rule.arguments:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, rule.rule))
    return sorted(routes)


ROUTES = workspace_routes()


def concrete(rule: str, slug: str) -> str:
    path = rule.replace("<slug>", slug)
    path = re.sub(r"<int:[^>]+>", "1", path)
    return re.sub(r"<[^>]+>", "x", path)


def call(client, method: str, path: str):
    if method == "GET":
        return client.get(path)
    return client.open(path, method=method, data={"csrf_token": client.csrf_token()})


def test_the_sweep_sees_the_console_pages():
    rules = {rule for _method, rule in ROUTES}
    assert {"/console/w/<slug>/", "/console/w/<slug>/members", "/console/w/<slug>/settings"} <= rules


@pytest.mark.parametrize("method,rule", ROUTES)
def test_non_member_gets_404(client, owner, factories, method, rule):
    victim = factories.workspace(name="Victim", credits="5.00")
    response = call(client, method, concrete(rule, victim.slug))
    assert response.status_code == 404, response.get_data(as_text=True)[:500]
    assert "Victim" not in response.get_data(as_text=True)


@pytest.mark.parametrize("method,rule", ROUTES)
def test_unknown_slug_looks_the_same_as_a_private_one(client, owner, method, rule):
    assert call(client, method, concrete(rule, "no-such-workspace")).status_code == 404


@pytest.mark.parametrize("method,rule", ROUTES)
def test_anonymous_is_sent_to_login(client, factories, method, rule):
    workspace = factories.workspace()
    response = call(client, method, concrete(rule, workspace.slug))
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/login")
