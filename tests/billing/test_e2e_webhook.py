"""Stripe's webhook over real HTTP: signed paid events credit once, whatever is replayed, forged or unpaid.

The live server is a production-like process (no TESTING flag), so these POSTs without a session or
CSRF token also prove the webhook is exempt from the console's CSRF protection.
"""
import pytest
import requests
from sqlalchemy import func, select

from ethergate.billing import stripe_checkout
from ethergate.billing.models import Payment, PaymentEvent
from ethergate.extensions import db

from .e2e import account, assert_audit_passes, assert_books_balance, clean_fake, entries, fresh  # noqa: F401
from .stripe_helpers import WEBHOOK_SECRET, fake_stripe, session_event, signed, start  # noqa: F401

SECRET_KEY = "sk_test_123"


def stripe_env(fake) -> dict:
    return {"ETHERGATE_STRIPE_SECRET_KEY": SECRET_KEY, "ETHERGATE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "ETHERGATE_STRIPE_API_BASE": fake.url}


@pytest.fixture
def live_server(live_server_factory, fake_stripe):
    return live_server_factory(extra_env=stripe_env(fake_stripe))


@pytest.fixture
def provider(live_app, fake_stripe):
    """The same Stripe settings in-process, to start checkouts as the console would."""
    live_app.config.update(STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                           STRIPE_API_BASE=fake_stripe.url)
    return stripe_checkout.payment_provider(live_app)


def deliver(server, payload: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return requests.post(server.url + "/billing/stripe/webhook", data=payload, headers=headers, timeout=20)


def answer(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def payment_status(session_id: str) -> str:
    return fresh(lambda: db.session.scalar(select(Payment.status).where(Payment.external_id == session_id)))


def test_paid_checkout_credits_once_across_replays(live_server, provider, live_factories):
    workspace_id = live_factories.workspace(credits="10.00").id
    session = fresh(lambda: start(provider, workspace_id, 50_000_000))
    payload, signature = signed(session_event("evt_paid", "checkout.session.completed", session,
                                              payment_status="paid", status="complete"))

    first = answer(deliver(live_server, payload, signature), 200)
    assert first["credited"] and not first["duplicate"]
    for _ in range(2):
        replay = answer(deliver(live_server, payload, signature), 200)
        assert replay["duplicate"] and not replay["credited"]
    # The same session announced again under a new event id: recorded, never credited twice.
    payload, signature = signed(session_event("evt_async", "checkout.session.async_payment_succeeded", session,
                                              payment_status="paid", status="complete"))
    again = answer(deliver(live_server, payload, signature), 200)
    assert not again["credited"] and not again["duplicate"]

    assert account(workspace_id) == (60_000_000, 0)
    [topup] = entries(workspace_id, "topup")
    assert (topup.amount_micro, topup.reference) == (50_000_000, session["id"])
    assert payment_status(session["id"]) == "paid"
    assert_books_balance(workspace_id)
    assert_audit_passes(live_server.database_url)


def test_unpaid_completion_credits_nothing_until_paid(live_server, provider, live_factories):
    workspace_id = live_factories.workspace(credits="10.00").id
    session = fresh(lambda: start(provider, workspace_id, 8_000_000))
    payload, signature = signed(session_event("evt_unpaid", "checkout.session.completed", session,
                                              status="complete"))
    unpaid = answer(deliver(live_server, payload, signature), 200)
    assert not unpaid["credited"]
    assert account(workspace_id) == (10_000_000, 0) and payment_status(session["id"]) == "pending"

    payload, signature = signed(session_event("evt_settled", "checkout.session.async_payment_succeeded", session,
                                              payment_status="paid", status="complete"))
    assert answer(deliver(live_server, payload, signature), 200)["credited"]
    assert account(workspace_id) == (18_000_000, 0)
    assert_audit_passes(live_server.database_url)


def test_forged_or_malformed_deliveries_are_400_and_record_nothing(live_server, provider, live_factories):
    workspace_id = live_factories.workspace(credits="10.00").id
    session = fresh(lambda: start(provider, workspace_id, 50_000_000))
    event = session_event("evt_forged", "checkout.session.completed", session, payment_status="paid")
    payload, signature = signed(event)
    _, forged = signed(event, secret="whsec_someone_else")
    tampered = payload.replace(b"50000000", b"99000000")
    for body, header in ((payload, forged), (payload, None), (payload, "t=1,v1=deadbeef"), (tampered, signature),
                         (b"\xff\xfe not even text", signature), (b"", "")):
        error = answer(deliver(live_server, body, header), 400)["error"]
        assert error["code"] == "invalid_webhook" and error["message"]
    assert fresh(lambda: db.session.scalar(select(func.count()).select_from(PaymentEvent))) == 0
    assert account(workspace_id) == (10_000_000, 0) and payment_status(session["id"]) == "pending"
    assert_audit_passes(live_server.database_url)


@pytest.mark.parametrize("event", [
    {"id": "evt_odd", "type": "checkout.session.completed", "data": {"object": "not a session"}},
    {"id": "evt_none", "type": "checkout.session.completed", "data": None},
    {"id": "evt_foreign", "type": "checkout.session.completed",
     "data": {"object": {"id": "cs_unknown", "payment_status": "paid"}}},
], ids=["object-not-a-dict", "no-data", "unknown-session"])
def test_signed_but_meaningless_events_are_answered_not_retried(live_server, provider, event):
    response = deliver(live_server, *signed(event))
    assert response.status_code in (200, 400), response.text[:300]
    assert_audit_passes(live_server.database_url)


def test_webhook_is_404_when_stripe_is_not_configured(live_server_factory):
    plain = live_server_factory(extra_env={"ETHERGATE_STRIPE_SECRET_KEY": None,
                                           "ETHERGATE_STRIPE_WEBHOOK_SECRET": None})
    payload, signature = signed({"id": "evt_x", "type": "checkout.session.completed", "data": {"object": {}}})
    error = answer(deliver(plain, payload, signature), 404)["error"]
    assert error["code"] == "payments_not_configured"
