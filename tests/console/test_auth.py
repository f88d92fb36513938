"""Sign-up, sign-in, sign-out, and the session they leave behind."""
from ethergate.accounts.models import User
from ethergate.extensions import db
from tests.console.conftest import PASSWORD


def test_signup_creates_user_signs_in_and_asks_for_a_workspace(client, auth):
    response = auth.signup("New.Dev@Example.com")
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/"
    user = db.session.scalar(db.select(User).where(User.email == "new.dev@example.com"))
    assert user is not None and user.check_password(PASSWORD)
    response = client.get("/console/")
    assert response.headers["Location"] == "/console/workspaces/new"
    page = client.get("/console/workspaces/new").get_data(as_text=True)
    assert "Create your first workspace" in page
    assert "Welcome to EtherGate" in page


def test_signup_rejects_bad_input_with_field_errors(client, auth, factories):
    factories.user(email="taken@example.com")
    response = auth.signup("taken@example.com")
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    response = auth.signup("not-an-email")
    assert response.status_code == 422
    assert "Enter a valid email address." in response.get_data(as_text=True)
    response = auth.signup("short@example.com", password="1234567")
    assert response.status_code == 422
    assert "at least 8 characters" in response.get_data(as_text=True)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


def test_login_and_logout(client, auth, factories):
    user = factories.user(email="dev@example.com")
    assert client.get("/console/").status_code in (302, 303)
    response = auth.login("DEV@example.com")
    assert response.status_code == 303
    assert client.get("/console/").headers["Location"] == "/console/workspaces/new"
    db.session.refresh(user)
    assert user.last_login_at is not None
    response = auth.logout()
    assert response.status_code == 303 and response.headers["Location"] == "/"
    response = client.get("/console/workspaces/new")
    assert response.status_code in (302, 303) and response.headers["Location"].startswith("/login")


def test_wrong_password_is_one_message_for_unknown_and_known_emails(client, auth, factories):
    factories.user(email="dev@example.com")
    wrong = auth.login("dev@example.com", "wrong password")
    unknown = auth.login("nobody@example.com", "wrong password")
    assert wrong.status_code == unknown.status_code == 422
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    assert "Wrong email or password." in unknown.get_data(as_text=True)


def test_login_returns_to_next_but_never_off_site(client, auth, factories):
    user = factories.user()
    workspace = factories.workspace(owner=user)
    members = f"/console/w/{workspace.slug}/members"
    response = client.get(members)
    assert response.headers["Location"] == f"/login?next={members}"
    response = client.submit(f"/login?next={members}", {"email": user.email, "password": PASSWORD}, page="/login")
    assert response.headers["Location"] == members
    auth.logout()
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.submit(f"/login?next={evil}", {"email": user.email, "password": PASSWORD}, page="/login")
        assert response.headers["Location"] == "/console/"
        auth.logout()


def test_htmx_sign_in_is_a_full_page_load(client, factories):
    # The session changes (new CSRF token), so the page must be reloaded, not swapped.
    user = factories.user()
    response = client.htmx_post("/login", {"email": user.email, "password": PASSWORD}, page="/login", boosted=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/console/"


def test_session_cookie_is_httponly_and_samesite_lax(client, auth, factories):
    user = factories.user()
    response = auth.login(user.email)
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("ethergate_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_session_cookie_is_secure_when_served_over_https(database_url):
    from ethergate import create_app
    from tests.conftest import app_config

    app = create_app(app_config(database_url, PUBLIC_BASE_URL="https://ethergate.example"))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    with app.app_context():
        response = app.test_client().get("/login", base_url="https://ethergate.example")
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        app.extensions["sqlalchemy"].engine.dispose()


def test_logout_needs_post_and_csrf(client, owner):
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get(f"/console/w/{owner.slug}/").status_code == 200
