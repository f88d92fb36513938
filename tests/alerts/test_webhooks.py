"""The alert webhook: signed, delivered off the request path by the sweep, retried with backoff, logged."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from ethergate.alerts import webhooks
from ethergate.alerts.checks import check_crossings
from ethergate.alerts.models import DELIVERED, FAILED, PENDING, WebhookDelivery
from ethergate.alerts.signing import sign, verify
from ethergate.extensions import db
from ethergate.timeutil import utcnow
from tests.alerts.conftest import WebhookReceiver


def low_workspace(factories, url):
    workspace = factories.workspace(owner=factories.user(), credits="0.40")
    hook = webhooks.set_webhook(workspace.id, url)
    return workspace, hook


def test_a_crossing_posts_a_signed_event_the_receiver_can_verify(factories, receiver):
    workspace, hook = low_workspace(factories, receiver.url)
    assert hook.secret.startswith("whsec_")
    [crossing] = check_crossings()
    assert receiver.received == []  # queued, not sent inside the check
    assert webhooks.deliver_due() == 1
    [got] = receiver.received
    headers = got["headers"]
    assert verify(hook.secret, got["body"], headers["EtherGate-Signature"])
    assert not verify("whsec_other", got["body"], headers["EtherGate-Signature"])
    assert not verify(hook.secret, got["body"] + b" ", headers["EtherGate-Signature"])
    event = json.loads(got["body"])
    assert event["type"] == headers["EtherGate-Event"] == "balance.low"
    assert event["id"] == headers["EtherGate-Delivery"]
    assert event["data"]["available_micro"] == 400_000 and event["data"]["workspace"] == workspace.slug
    delivery = db.session.scalars(db.select(WebhookDelivery)).one()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DELIVERED, 1, 200)
    assert webhooks.deliver_due() == 0  # delivered once


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(factories):
    receiver = WebhookReceiver(statuses=[500, 503])
    try:
        workspace, hook = low_workspace(factories, receiver.url)
        check_crossings()
        now = utcnow()
        assert webhooks.deliver_due(now) == 0
        delivery = db.session.scalars(db.select(WebhookDelivery)).one()
        assert (delivery.status, delivery.attempts, delivery.last_error) == (PENDING, 1, "HTTP 500")
        assert delivery.next_attempt_at == now + timedelta(seconds=30)
        assert webhooks.deliver_due(now + timedelta(seconds=29)) == 0 and len(receiver.received) == 1  # not yet due
        assert webhooks.deliver_due(now + timedelta(seconds=30)) == 0
        db.session.refresh(delivery)
        assert (delivery.attempts, delivery.last_status_code) == (2, 503)
        assert delivery.next_attempt_at == now + timedelta(seconds=30) + timedelta(minutes=2)
        assert webhooks.deliver_due(now + timedelta(minutes=3)) == 1
        db.session.refresh(delivery)
        assert (delivery.status, delivery.attempts) == (DELIVERED, 3)
        stamps = [r["headers"]["EtherGate-Signature"].split(",")[0] for r in receiver.received]
        assert all(verify(hook.secret, r["body"], r["headers"]["EtherGate-Signature"]) for r in receiver.received)
        assert len({r["body"] for r in receiver.received}) == 1 and len(stamps) == 3  # same event, signed per attempt
    finally:
        receiver.stop()


def test_an_unreachable_receiver_fails_for_good_after_the_last_attempt(factories):
    receiver = WebhookReceiver()
    url = receiver.url
    receiver.stop()
    low_workspace(factories, url)
    check_crossings()
    moment = utcnow()
    for _ in range(webhooks.MAX_ATTEMPTS):
        webhooks.deliver_due(moment)
        moment += timedelta(hours=7)
    delivery = db.session.scalars(db.select(WebhookDelivery)).one()
    assert (delivery.status, delivery.attempts) == (FAILED, webhooks.MAX_ATTEMPTS)
    assert "ConnectionError" in delivery.last_error and delivery.next_attempt_at is None


def test_urls_are_checked_and_private_hosts_refused_by_default(app, factories):
    workspace = factories.workspace()
    with app.test_request_context():  # the messages are for a console form, in its language
        for bad in ("ftp://example.com/x", "example.com/hook", "https://user:pw@example.com/"):
            with pytest.raises(webhooks.WebhookError):
                webhooks.set_webhook(workspace.id, bad)
        app.config["WEBHOOK_ALLOW_PRIVATE"] = False
        for private in ("http://127.0.0.1:9/x", "http://10.0.0.5/x", "http://[::1]/x", "http://169.254.169.254/latest"):
            with pytest.raises(webhooks.WebhookError, match="private or local"):
                webhooks.set_webhook(workspace.id, private)


def test_a_host_that_turned_private_is_refused_at_delivery(app, factories, receiver):
    workspace, hook = low_workspace(factories, receiver.url)
    check_crossings()
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    assert webhooks.deliver_due() == 0 and receiver.received == []
    delivery = db.session.scalars(db.select(WebhookDelivery)).one()
    assert (delivery.status, delivery.last_error) == (PENDING, "refused: private or local address")


def test_no_webhook_means_nothing_queued(factories):
    factories.workspace(credits="0.10")
    assert len(check_crossings()) == 1
    assert db.session.scalars(db.select(WebhookDelivery)).all() == []


def test_signature_rejects_stale_timestamps():
    body = b'{"id":"evt_1"}'
    old = int(time.time()) - 600
    assert not verify("whsec_x", body, sign("whsec_x", body, old))
    assert verify("whsec_x", body, sign("whsec_x", body, old), now=old + 10)
    assert not verify("whsec_x", body, "v1=abc") and not verify("whsec_x", body, "t=x,v1=abc")


def test_finished_deliveries_are_kept_30_days_and_pending_ones_until_they_finish(factories, receiver):
    workspace, _hook = low_workspace(factories, receiver.url)
    check_crossings()
    webhooks.enqueue(workspace.id, "alert.test", {})
    db.session.commit()
    now = utcnow()
    delivered, pending = db.session.scalars(db.select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    webhooks.attempt(delivered, now)
    assert webhooks.prune(now + timedelta(days=29)) == 0
    assert webhooks.prune(now + timedelta(days=31)) == 1
    assert db.session.scalars(db.select(WebhookDelivery.event)).all() == ["alert.test"]
