"""The session cookie: programs without one get none; browsers that start a session keep theirs."""
from ethergate.security import CookieSessions


def test_no_session_cookie_means_no_session_work_and_no_cookie(app, client):
    assert isinstance(app.session_interface, CookieSessions)
    response = client.get("/v1/models", headers={"Authorization": "Bearer cr_nothing"})
    assert response.status_code == 401 and "Set-Cookie" not in response.headers


def test_a_session_started_without_a_cookie_is_saved_and_read_back(app, client):
    page = client.get("/login")  # the sign-in form stores its CSRF token in a fresh session
    cookie = page.headers.get("Set-Cookie", "")
    assert cookie.startswith(app.config["SESSION_COOKIE_NAME"] + "=")
    again = client.get("/login")  # the cookie is sent back and read: the same session, no new cookie needed
    assert again.status_code == 200
