"""Sign-in throttling as the console applies it, CSRF, and the headers console pages carry (and /v1 does not)."""
import pytest

from tests.console.conftest import PASSWORD


def test_sixth_attempt_for_an_email_is_refused_even_with_the_right_password(client, auth, factories):
    user = factories.user(email="dev@example.com")
    for _ in range(5):
        assert auth.login(user.email, "wrong password").status_code == 422
    response = auth.login(user.email, PASSWORD)
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in page
    assert client.get("/console/").status_code in (302, 303)  # still signed out


def test_email_throttle_counts_per_email_across_ips(client, auth, factories):
    user = factories.user()
    other = factories.user()
    for n in range(5):
        auth.login(user.email, "wrong", environ_base={"REMOTE_ADDR": f"10.0.0.{n}"})
    assert auth.login(user.email, environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 429
    assert auth.login(other.email).status_code == 303


def test_ip_throttle_stops_a_spray_over_many_emails(app, client, auth, factories):
    app.extensions["ethergate.login_throttle"].per_ip = 3
    user = factories.user()
    for n in range(3):
        auth.login(f"nobody{n}@example.com", "wrong", environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert auth.login(user.email, environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 429
    assert auth.login(user.email, environ_base={"REMOTE_ADDR": "10.2.2.2"}).status_code == 303


def test_post_without_csrf_token_is_a_readable_400(client, factories):
    user = factories.user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This form expired or was sent from another page" in page
    assert "Traceback" not in page and '<main id="main"' in page


def test_htmx_post_needs_the_header_token(client, owner):
    url = f"/console/w/{owner.slug}/settings/name"
    response = client.post(url, data={"name": "X"}, headers={"HX-Request": "true", "HX-Target": "workspace-name"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "body"  # the error page replaces the page, not the widget
    response = client.post(url, data={"name": "X"}, headers={"HX-Request": "true", "X-CSRFToken": "forged"})
    assert response.status_code == 400
    assert client.htmx_post(url, {"name": "Renamed"}, target="workspace-name").status_code == 200


def test_csrf_token_from_another_session_is_refused(app, client, factories):
    other = app.test_client()
    stolen = other.csrf_token()
    user = factories.user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": stolen})
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/", "/login", "/signup", "/console/", "/no-such-page", "/static/css/app.css"])
def test_security_headers_on_site_and_console(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_console_pages_are_not_cached_and_vary_on_htmx(client, owner):
    response = client.get(f"/console/w/{owner.slug}/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize("path", ["/v1/models", "/v1/chat/completions", "/v1/nope"])
def test_v1_stays_lean_and_needs_no_csrf(client, path):
    response = client.post(path, json={}) if path.endswith("completions") else client.get(path)
    assert response.status_code in (401, 404)  # the gateway's own answer, not a CSRF 400
    assert response.is_json
    for header in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"):
        assert header not in response.headers


def test_pages_have_no_inline_scripts_or_styles(client, owner):
    for path in ("/", "/login", "/signup", f"/console/w/{owner.slug}/", f"/console/w/{owner.slug}/members",
                 f"/console/w/{owner.slug}/settings"):
        page = client.get(path).get_data(as_text=True)
        assert "<style" not in page and " style=" not in page and " on" + "click=" not in page
        for tag in page.split("<script")[1:]:
            assert tag.lstrip().startswith("src="), tag[:80]
