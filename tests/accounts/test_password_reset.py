"""Password reset by email: single-use, expiring links stored as digests; requests are throttled."""
from datetime import timedelta

from ethergate.accounts.sessions import UserSession
from ethergate.accounts.tokens import AccountToken
from ethergate.extensions import db
from ethergate.timeutil import utcnow
from tests.accounts.conftest import last_link

NEW_PASSWORD = "a much better passphrase"


def test_reset_by_the_link_once_then_the_link_is_spent(client, auth, factories, second_browser):
    user = factories.user("reset@example.com")
    second_browser.submit("/login", {"email": user.email, "password": "correct horse battery"}, page="/login")
    page = client.submit("/password/forgot", {"email": "Reset@Example.com"}, page="/password/forgot")
    text = page.get_data(as_text=True)
    assert "no message was sent" in text and "we emailed" not in text  # no SMTP here: no claim of sending
    path = last_link("reset_password")
    token = path.rsplit("/", 1)[-1]
    assert token not in str([(t.digest, t.new_email) for t in db.session.scalars(db.select(AccountToken))])
    assert client.get(path).status_code == 200
    response = client.submit(path, {"password": NEW_PASSWORD}, page=path)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    again = client.submit(path, {"password": "yet another passphrase"}, page="/login")
    assert again.status_code == 410 and "already used" in again.get_data(as_text=True)
    assert auth.login(user.email).status_code == 422
    assert auth.login(user.email, NEW_PASSWORD).status_code == 303
    # The other browser's session ended with the reset.
    assert second_browser.get("/account/").status_code == 303
    assert db.session.scalar(db.select(UserSession).where(UserSession.ended_at.is_(None))) is not None


def test_expired_and_unknown_links(client, factories):
    factories.user("late@example.com")
    client.submit("/password/forgot", {"email": "late@example.com"}, page="/password/forgot")
    path = last_link("reset_password")
    row = db.session.scalar(db.select(AccountToken))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert client.submit(path, {"password": NEW_PASSWORD}, page="/login").status_code == 410
    assert client.get("/password/reset/not-a-token").status_code == 404


def test_a_new_request_voids_the_previous_link(client, factories):
    factories.user("twice@example.com")
    client.submit("/password/forgot", {"email": "twice@example.com"}, page="/password/forgot")
    first = last_link("reset_password")
    client.submit("/password/forgot", {"email": "twice@example.com"}, page="/password/forgot")
    assert last_link("reset_password") != first
    assert client.get(first).status_code == 410


def test_unknown_email_gets_the_same_answer(client, factories):
    known = client.submit("/password/forgot", {"email": "nobody@example.com"}, page="/password/forgot")
    assert known.status_code == 200
    assert "If an account uses nobody@example.com" in known.get_data(as_text=True)


def test_reset_requests_are_throttled_per_email(client, factories):
    factories.user("spam@example.com")
    for _ in range(3):
        assert client.submit("/password/forgot", {"email": "spam@example.com"}, page="/password/forgot").status_code == 200
    refused = client.submit("/password/forgot", {"email": "spam@example.com"}, page="/password/forgot")
    assert refused.status_code == 429 and "Too many reset requests" in refused.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(AccountToken)) == 3
