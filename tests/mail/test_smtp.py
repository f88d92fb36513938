"""Email through a real SMTP server on loopback: invitations, resets and verification, in the recipient's language."""
from urllib.parse import urlsplit

from ethergate.extensions import db
from ethergate.mail.models import OutboxMessage
from tests.console.conftest import PASSWORD


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path


def test_invitation_is_emailed_and_its_link_joins(client, auth, owner, smtp_server):
    response = client.submit(f"/console/w/{owner.slug}/members/invite", {"email": "new@example.com", "role": "member"})
    assert response.status_code == 303
    page = client.get(f"/console/w/{owner.slug}/members").get_data(as_text=True)
    assert "Invitation emailed to new@example.com" in page and 'id="invite-url"' not in page
    message = smtp_server.wait_for("new@example.com")
    assert message.subject == f"{owner.email} invited you to Acme on EtherGate"
    assert message.sender == "noreply@ethergate.test"
    [link] = message.links
    assert link.startswith("http://127.0.0.1:8000/invitations/")
    row = db.session.scalars(db.select(OutboxMessage)).one()
    assert (row.status, row.body) == ("sent", None)  # a delivered link is not kept
    auth.logout()
    token = path_of(link).rsplit("/", 1)[-1]
    assert "Join Acme" in client.get(path_of(link)).get_data(as_text=True)
    client.submit(f"/signup?invitation={token}", {"email": "new@example.com", "password": PASSWORD}, page="/signup")
    assert "You joined Acme." in client.get("/console/workspaces/new").get_data(as_text=True)


def test_messages_are_in_the_recipients_language(client, auth, owner, smtp_server, factories):
    client.submit("/language", {"lang": "zh-CN"})
    client.submit(f"/console/w/{owner.slug}/members/invite", {"email": "li@example.com", "role": "member"})
    message = smtp_server.wait_for("li@example.com")
    assert "邀请你加入" in message.subject and "7 天" in message.body
    english = factories.user("en@example.com")
    english.locale = "en"
    db.session.commit()
    client.submit("/password/forgot", {"email": "en@example.com"}, page="/password/forgot")
    assert smtp_server.wait_for("en@example.com").subject == "Reset your EtherGate password"


def test_signup_sends_a_verification_link(client, auth, smtp_server):
    auth.signup("fresh@example.com")
    page = client.get("/console/workspaces/new").get_data(as_text=True)
    assert "We sent a link to fresh@example.com" in page
    [link] = smtp_server.wait_for("fresh@example.com").links
    assert client.submit(path_of(link), page=path_of(link)).status_code == 303
    assert "verified" in client.get("/account/").get_data(as_text=True)


def test_when_smtp_fails_the_page_says_so_and_shows_the_link(client, owner, smtp_server):
    smtp_server.stop()
    response = client.submit(f"/console/w/{owner.slug}/members/invite", {"email": "new@example.com", "role": "member"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "the email could not be sent" in page and 'id="invite-url"' in page
    row = db.session.scalars(db.select(OutboxMessage)).one()
    assert row.status == "failed" and "/invitations/" in row.body and row.error
