"""The account page: sessions with sign-out-everywhere, password change, email change and verification."""
from ethergate.accounts.models import User
from ethergate.extensions import db
from ethergate.mail.models import OutboxMessage
from tests.accounts.conftest import last_link
from tests.console.conftest import PASSWORD


def test_sessions_are_listed_and_signed_out_everywhere_else(client, owner, second_browser):
    second_browser.environ_base["HTTP_USER_AGENT"] = "OtherBrowser/1.0"
    second_browser.submit("/login", {"email": owner.email, "password": PASSWORD}, page="/login")
    assert second_browser.get("/account/").status_code == 200
    page = client.get("/account/").get_data(as_text=True)
    assert "OtherBrowser/1.0" in page and "this session" in page and "Sign out everywhere else" in page
    response = client.submit("/account/sessions/end-others", page="/account/")
    assert response.status_code == 303
    assert second_browser.get("/account/").status_code == 303  # back to the sign-in page
    assert client.get("/account/").status_code == 200


def test_signing_out_ends_the_session_for_a_copied_cookie(client, auth, owner, second_browser):
    cookie = client.get_cookie("ethergate_session")
    second_browser.set_cookie(cookie.key, cookie.value, domain=cookie.domain or "localhost")
    assert second_browser.get("/account/").status_code == 200
    auth.logout()
    assert second_browser.get("/account/").status_code == 303


def test_change_password_checks_the_current_one_and_ends_other_sessions(client, auth, owner, second_browser):
    second_browser.submit("/login", {"email": owner.email, "password": PASSWORD}, page="/login")
    wrong = client.submit("/account/password", {"pw-current": "not it at all", "pw-password": "brand new password"},
                          page="/account/")
    assert wrong.status_code == 422 and "That is not your current password." in wrong.get_data(as_text=True)
    short = client.submit("/account/password", {"pw-current": PASSWORD, "pw-password": "short"}, page="/account/")
    assert short.status_code == 422
    ok = client.submit("/account/password", {"pw-current": PASSWORD, "pw-password": "brand new password"},
                       page="/account/")
    assert ok.status_code == 303
    assert second_browser.get("/account/").status_code == 303
    assert client.get("/account/").status_code == 200
    auth.logout()
    assert auth.login(owner.email, "brand new password").status_code == 303


def test_change_email_happens_only_by_the_link_sent_to_the_new_address(client, owner, factories):
    factories.user("taken@example.com")
    taken = client.submit("/account/email", {"em-email": "taken@example.com", "em-current": PASSWORD},
                          page="/account/")
    assert taken.status_code == 422 and "Another account uses that email address." in taken.get_data(as_text=True)
    response = client.submit("/account/email", {"em-email": "New.Me@example.com", "em-current": PASSWORD},
                             page="/account/")
    assert response.status_code == 303
    page = client.get("/account/").get_data(as_text=True)
    assert "could not email new.me@example.com" in page and owner.email in page  # unchanged until confirmed
    message = db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == "change_email")).one()
    assert message.recipient == "new.me@example.com" and message.status == "not_sent"
    path = last_link("change_email")
    assert "new.me@example.com" in client.get(path).get_data(as_text=True)
    assert client.submit(path, page=path).status_code == 303
    user = db.session.get(User, owner.user.id)
    assert user.email == "new.me@example.com" and user.email_verified
    assert client.submit(path, page="/account/").status_code == 410
    notice = db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == "email_changed")).one()
    assert notice.recipient == owner.email


def test_signup_asks_to_verify_and_the_link_verifies_once(client, auth):
    auth.signup("fresh@example.com")
    page = client.get("/console/workspaces/new").get_data(as_text=True)
    assert "could not email you a link" in page  # no SMTP: never "we sent"
    user = db.session.scalar(db.select(User).where(User.email == "fresh@example.com"))
    assert not user.email_verified
    path = last_link("verify_email")
    assert client.submit(path, page=path).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, user.id).email_verified
    assert client.submit(path, page="/account/").status_code == 410
    assert "verified" in client.get("/account/").get_data(as_text=True)


def test_account_pages_need_sign_in(client):
    for path in ("/account/", "/account/two-factor"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"].startswith("/login")


def test_a_signed_in_invitee_accepts_by_the_link_and_others_cannot(client, auth, owner, factories, second_browser):
    import re
    invitee = factories.user("invitee@example.com")
    page = client.submit(f"/console/w/{owner.slug}/members/invite",
                         {"email": invitee.email, "role": "member"}).get_data(as_text=True)
    path = re.search(r'<code id="invite-url">http://127.0.0.1:8000(/invitations/[^<]+)</code>', page).group(1)
    stranger = client.submit(path, page=path)  # the owner, signed in as someone else
    assert stranger.status_code == 422 and "This invitation is for invitee@example.com" in stranger.get_data(as_text=True)
    second_browser.submit("/login", {"email": invitee.email, "password": PASSWORD}, page="/login")
    assert "Accept and join" in second_browser.get(path).get_data(as_text=True)
    response = second_browser.submit(path, page=path)
    assert response.status_code == 303 and response.headers["Location"] == f"/console/w/{owner.slug}/"
    assert db.session.get(User, invitee.id).email_verified
    assert second_browser.get(path).status_code == 410  # used
