"""The staff outbox: every message written without SMTP is readable there, by staff only."""
from tests.console.conftest import PASSWORD


def test_staff_read_unsent_messages_and_nobody_else_can(client, auth, owner, factories):
    client.submit("/password/forgot", {"email": owner.email}, page="/password/forgot")
    assert client.get("/support/outbox").status_code == 404  # a customer
    auth.logout()
    staff = factories.user("support@ethergate.example", staff=True)
    auth.login(staff.email, PASSWORD)
    page = client.get("/support/outbox").get_data(as_text=True)
    assert "Reset your EtherGate password" in page and owner.email in page
    assert "not sent" in page and "/password/reset/" in page
    assert "ETHERGATE_SMTP_HOST is not set" in page
    auth.logout()
    assert client.get("/support/outbox").status_code == 404  # signed out
