"""/support is staff only: everyone else gets the plain 404 of a page that does not exist, for every URL
and method, before CSRF, method or trailing-slash handling could answer differently.

The URL list comes from the app's url_map, so support pages added later are swept too.
"""
from __future__ import annotations

import re

import pytest

from tests.conftest import TEST_SECRET

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")


def support_paths() -> list[str]:
    from ethergate import create_app
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    paths = {"/support", "/support/no-such-page"}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/support"):
            path = re.sub(r"<int:[^>]+>", "1", rule.rule)
            paths.add(re.sub(r"<[^>]+>", "acme", path))
    return sorted(paths)


PATHS = support_paths()

# What differs between any two pages: the language switch's return path, and the CSRF token (signed with
# a timestamp, so it changes when a second ticks by).
NEXT_FIELD = re.compile(r'name="next" value="[^"]*"')
CSRF_TOKEN = re.compile(r'"[\w-]+\.[\w-]+\.[\w-]+"')


def normalized(html: str) -> str:
    return CSRF_TOKEN.sub('"token"', NEXT_FIELD.sub("", html))


def test_the_sweep_sees_the_support_pages():
    assert {"/support/", "/support/requests/acme", "/support/workspaces/acme", "/support/workspaces/acme/adjust",
            "/support/codes", "/support/codes/new", "/support/audit"} <= set(PATHS)


def not_found_page(client) -> tuple[str, dict]:
    response = client.get("/no-such-page-at-all")
    assert response.status_code == 404
    return normalized(response.get_data(as_text=True)), _headers(response)


def _headers(response) -> dict:
    return {name: value for name, value in response.headers.items()
            if name not in ("Content-Length", "X-Request-Id", "Set-Cookie")}


def assert_hidden(client, path: str) -> None:
    page, headers = not_found_page(client)
    for method in METHODS:
        response = client.open(path, method=method, data={"amount": "5", "note": "x"})
        assert response.status_code == 404, (method, path, response.status_code)
        assert "Location" not in response.headers
        if method != "HEAD":
            assert normalized(response.get_data(as_text=True)) == page, (method, path)
        assert _headers(response) == headers, (method, path)


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_gets_a_plain_404(client, factories, path):
    factories.workspace(name="Acme")
    assert_hidden(client, path)


@pytest.mark.parametrize("path", PATHS)
def test_signed_in_non_staff_gets_a_plain_404(client, owner, path):
    """An owner (of the very workspace named in the URL) is no more staff than anyone else."""
    assert owner.slug == "acme"
    assert_hidden(client, path)


def test_htmx_requests_by_non_staff_get_the_same_404(client, owner):
    response = client.htmx_post("/support/workspaces/acme/adjust", {"amount": "5", "note": "x"}, target="credit")
    assert response.status_code == 404
    response = client.htmx_get("/support/", target="main")
    assert response.status_code == 404 and "Location" not in response.headers


def test_staff_flag_is_what_opens_it(client, auth, factories):
    user = factories.user(staff=True)
    auth.login(user.email)
    assert client.get("/support/").status_code == 200
    assert client.get("/support").status_code == 308  # the usual trailing-slash redirect, for staff only


def test_support_must_be_set_up_before_csrf():
    from flask import Flask
    from flask_wtf.csrf import CSRFProtect

    from ethergate import support
    app = Flask(__name__)
    app.config["SECRET_KEY"] = TEST_SECRET
    CSRFProtect(app)
    with pytest.raises(RuntimeError, match="before security.init_app"):
        support.init_app(app)
