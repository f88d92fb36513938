"""The settings page's alert webhook: save, test event, rotate, remove, the delivery log, and who may."""
from __future__ import annotations

from ethergate.alerts import webhooks
from ethergate.alerts.models import AlertWebhook, WebhookDelivery
from ethergate.alerts.signing import verify
from ethergate.extensions import db
from tests.console.conftest import auth, client, join, owner  # noqa: F401  (fixtures)


def test_owner_saves_a_webhook_sends_a_test_event_and_sees_it_delivered(client, owner, receiver):
    settings = f"/console/w/{owner.slug}/settings"
    response = client.htmx_post(f"{settings}/webhook", {"url": receiver.url}, page=settings)
    assert response.status_code == 200
    hook = db.session.get(AlertWebhook, owner.workspace.id)
    assert hook.url == receiver.url and hook.secret in response.get_data(as_text=True)
    page = client.htmx_post(f"{settings}/webhook/test", page=settings).get_data(as_text=True)
    assert "alert.test" in page and "Pending" in page and receiver.received == []  # not sent on the request
    assert webhooks.deliver_due() == 1
    assert verify(hook.secret, receiver.received[0]["body"], receiver.received[0]["headers"]["EtherGate-Signature"])
    page = client.get(settings).get_data(as_text=True)
    assert 'id="webhook-deliveries"' in page and "Delivered" in page and "HTTP 200" in page


def test_bad_urls_get_a_form_error(client, owner, app):
    settings = f"/console/w/{owner.slug}/settings"
    response = client.htmx_post(f"{settings}/webhook", {"url": "not a url"}, page=settings)
    assert response.status_code == 422 and "Enter a full http:// or https:// URL." in response.get_data(as_text=True)
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    response = client.htmx_post(f"{settings}/webhook", {"url": "http://127.0.0.1:9/x"}, page=settings)
    assert response.status_code == 422 and "private or local address" in response.get_data(as_text=True)
    response = client.htmx_post(f"{settings}/webhook", {"url": ""}, page=settings)
    assert response.status_code == 422 and "Enter the URL to post alerts to." in response.get_data(as_text=True)
    assert db.session.get(AlertWebhook, owner.workspace.id) is None


def test_rotate_and_remove(client, owner, receiver):
    settings = f"/console/w/{owner.slug}/settings"
    client.htmx_post(f"{settings}/webhook", {"url": receiver.url}, page=settings)
    old = db.session.get(AlertWebhook, owner.workspace.id).secret
    client.htmx_post(f"{settings}/webhook/rotate", page=settings)
    db.session.expire_all()
    assert db.session.get(AlertWebhook, owner.workspace.id).secret != old
    response = client.submit(f"{settings}/webhook/remove", page=settings)
    assert response.status_code == 303
    assert db.session.get(AlertWebhook, owner.workspace.id) is None
    audit = client.get(f"/console/w/{owner.slug}/audit").get_data(as_text=True)
    assert "Alert webhook set" in audit and "Alert webhook secret replaced" in audit and "Alert webhook removed" in audit


def test_members_neither_see_nor_change_the_webhook(client, auth, owner, join, receiver):
    webhooks.set_webhook(owner.workspace.id, receiver.url)
    secret = db.session.get(AlertWebhook, owner.workspace.id).secret
    member = join(owner.workspace, "member")
    auth.logout()
    auth.login(member.email)
    settings = f"/console/w/{owner.slug}/settings"
    assert secret not in client.get(settings).get_data(as_text=True)
    assert client.htmx_post(f"{settings}/webhook/test", page=settings).status_code == 403
    assert client.htmx_post(f"{settings}/webhook", {"url": "https://example.com/x"}, page=settings).status_code == 403
    assert client.get(f"{settings}/webhook").status_code == 403
    assert db.session.scalars(db.select(WebhookDelivery)).all() == []
