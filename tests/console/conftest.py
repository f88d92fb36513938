"""Console fixtures: a browser-like client that reads CSRF tokens from pages, and AuthActions.

Reuse them for every console page::

    def test_keys_page(client, owner):                 # signed in, owns owner.workspace
        page = client.get(f"/console/w/{owner.slug}/keys/")
        response = client.submit(f"/console/w/{owner.slug}/keys/", {"name": "ci"})      # form POST
        response = client.htmx_post(f"/console/w/{owner.slug}/keys/1/revoke", target="key-1")

    def test_something(client, auth, factories):
        auth.signup("new@example.com")                 # or auth.login(email), auth.logout()

CSRF stays on: `submit` and `htmx_post` first GET a page and take the token from its
<meta name="csrf-token">, as a browser holding that page would.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient

PASSWORD = "correct horse battery"  # the factories' default password
TOKEN_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def page_token(html: str) -> str:
    match = TOKEN_RE.search(html)
    assert match, "the page has no csrf-token meta tag"
    return match.group(1)


class BrowserClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The `app` fixture keeps an app context open for the whole test; without a fresh one per request,
    `g` (and with it Flask-Login's cached user and g.workspace) would leak from one request into the
    next. Before each request the test's own session is committed, so a read the test made does not
    hold SQLite's write lock while the request runs; afterwards its objects are expired, so the test
    sees what the request wrote (the app's sessions do not expire on commit).
    """

    def open(self, *args, **kwargs):
        from ethergate.extensions import db
        db.session.commit()
        try:
            with self.application.app_context():
                return super().open(*args, **kwargs)
        finally:
            db.session.expire_all()

    def csrf_token(self, page: str = "/") -> str:
        """The token a browser showing `page` would send."""
        response = self.get(page)
        return page_token(response.get_data(as_text=True))

    def submit(self, path: str, data: dict | None = None, page: str = "/", **kwargs):
        """A form POST with the csrf_token field, like a plain <form method=post>."""
        return self.post(path, data={"csrf_token": self.csrf_token(page), **(data or {})}, **kwargs)

    def htmx_post(self, path: str, data: dict | None = None, target: str | None = None, page: str = "/",
                  boosted: bool = False, **kwargs):
        """A POST as htmx sends it: HX-Request, HX-Target, and the token in the X-CSRFToken header."""
        headers = {"HX-Request": "true", "X-CSRFToken": self.csrf_token(page), **kwargs.pop("headers", {})}
        if target:
            headers["HX-Target"] = target
        if boosted:
            headers["HX-Boosted"] = "true"
        return self.post(path, data=data or {}, headers=headers, **kwargs)

    def htmx_get(self, path: str, target: str | None = None, **kwargs):
        headers = {"HX-Request": "true", **kwargs.pop("headers", {})}
        if target:
            headers["HX-Target"] = target
        return self.get(path, headers=headers, **kwargs)


class AuthActions:
    """Sign up, sign in and out through the real forms."""

    def __init__(self, client: BrowserClient):
        self.client = client

    def signup(self, email: str = "dev@example.com", password: str = PASSWORD, **kwargs):
        return self.client.submit("/signup", {"email": email, "password": password}, page="/signup", **kwargs)

    def login(self, email: str, password: str = PASSWORD, **kwargs):
        return self.client.submit("/login", {"email": email, "password": password}, page="/login", **kwargs)

    def logout(self, **kwargs):
        return self.client.submit("/logout", **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = BrowserClient
    return app.test_client()


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def join(factories):
    """join(workspace, role="member", user=None) -> the user, now a member with that role."""
    from ethergate.accounts.models import Membership
    from ethergate.extensions import db

    def add(workspace, role: str = "member", user=None):
        user = user or factories.user()
        db.session.add(Membership(user_id=user.id, workspace_id=workspace.id, role=role))
        db.session.commit()
        return user

    return add


@pytest.fixture
def owner(factories, auth):
    """A signed-in user who owns a workspace with 10.00 of credit: .user, .workspace, .slug."""
    user = factories.user()
    workspace = factories.workspace(owner=user, name="Acme", credits="10.00")
    response = auth.login(user.email)
    assert response.status_code == 303, response.get_data(as_text=True)
    return SimpleNamespace(user=user, workspace=workspace, slug=workspace.slug, email=user.email)
