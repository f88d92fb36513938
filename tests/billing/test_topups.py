"""Top-ups land exactly once: redemption codes, staff grants and adjustments, Stripe Checkout."""
import threading
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from sqlalchemy import func, select

from ethergate.accounts.models import AuditEvent
from ethergate.billing import codes, grants, ledger, stripe_checkout, topup_errors
from ethergate.billing.models import LedgerEntry, Payment, PaymentEvent, RedemptionCode
from ethergate.extensions import db
from ethergate.timeutil import utcnow

from .stripe_helpers import WEBHOOK_SECRET, fake_stripe, session_event, signed, start  # noqa: F401


@pytest.fixture
def workspace(factories):
    return factories.workspace(credits="10.00")


def entries(workspace_id, kind):
    return db.session.scalars(select(LedgerEntry).where(LedgerEntry.workspace_id == workspace_id,
                                                        LedgerEntry.kind == kind)).all()


def test_code_is_shown_once_and_stored_as_a_digest(factories):
    staff = factories.user(staff=True)
    code, plaintext = codes.create_code(5_000_000, note="launch promo", created_by=staff)
    assert plaintext.startswith("EG-") and len(plaintext) == 22 and plaintext.count("-") == 4
    assert not set(plaintext.replace("-", "")[2:]) & set("01OIL")
    stored = db.session.get(RedemptionCode, code.id)
    assert stored.digest == codes.digest_code(plaintext) and plaintext not in (stored.digest, stored.prefix)
    assert stored.prefix == plaintext[:7] and stored.created_by_id == staff.id
    assert codes.create_code(1)[1] != plaintext


def test_redeem_credits_once_and_says_who_redeemed(factories, workspace):
    user = factories.user()
    _, plaintext = codes.create_code(3_000_000, note="promo")
    entry = codes.redeem_code(workspace.id, plaintext.lower().replace("-", " "), user=user)
    assert entry.amount == 3_000_000 and entry.balance_after == 13_000_000
    with pytest.raises(codes.CodeAlreadyRedeemed, match="by this workspace") as again:
        codes.redeem_code(workspace.id, plaintext)
    assert again.value.by_this_workspace
    other = factories.workspace()
    with pytest.raises(codes.CodeAlreadyRedeemed, match="already been redeemed"):
        codes.redeem_code(other.id, plaintext)
    assert ledger.account_state(workspace.id) == (13_000_000, 0)
    assert ledger.account_state(other.id) == (0, 0)
    [credit] = entries(workspace.id, "redemption")
    assert credit.actor_user_id == user.id and credit.reference == plaintext[:7]


def test_unknown_and_expired_codes(workspace):
    with pytest.raises(codes.UnknownCode):
        codes.redeem_code(workspace.id, "EG-2222-3333-4444-5555")
    with pytest.raises(codes.UnknownCode):
        codes.redeem_code(workspace.id, "not a code")
    code, plaintext = codes.create_code(1_000_000, expires_at=utcnow() + timedelta(seconds=60))
    db.session.get(RedemptionCode, code.id).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(codes.CodeExpired, match="expired on"):
        codes.redeem_code(workspace.id, plaintext)
    assert ledger.account_state(workspace.id) == (10_000_000, 0)


def run_threads(app, count, work):
    """Run work(i) in `count` threads at once, each with its own app context; returns results or exceptions."""
    barrier, results = threading.Barrier(count), [None] * count

    def target(i):
        with app.app_context():
            try:
                barrier.wait()
                results[i] = work(i)
            except Exception as exc:  # noqa: BLE001  (collected for the assertions)
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_redemption_credits_exactly_once(app, factories):
    # Plain ids: touching the main thread's ORM objects from a thread would use its session.
    workspace_ids = [factories.workspace().id for _ in range(2)]
    _, plaintext = codes.create_code(7_000_000)
    results = run_threads(app, 8, lambda i: codes.redeem_code(workspace_ids[i % 2], plaintext))
    wins = [r for r in results if isinstance(r, ledger.PostedEntry)]
    assert len(wins) == 1, results
    assert all(isinstance(r, codes.CodeAlreadyRedeemed) for r in results if r not in wins)
    total = sum(ledger.account_state(w)[0] for w in workspace_ids)
    assert total == 7_000_000
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.kind == "redemption")) == 1


def test_grants_and_adjustments_need_a_note_and_record_the_actor(factories, workspace):
    staff, member = factories.user(staff=True), factories.user()
    with pytest.raises(grants.NoteRequired):
        grants.grant(workspace.id, 1_000_000, staff, "  ")
    with pytest.raises(grants.StaffOnly):
        grants.grant(workspace.id, 1_000_000, member, "why not")
    with pytest.raises(topup_errors.InvalidAmount):
        grants.grant(workspace.id, -1, staff, "negative grant")
    granted = grants.grant(workspace.id, 2_000_000, staff, "trial credits", idempotency_key="t-1")
    assert grants.grant(workspace.id, 2_000_000, staff, "trial credits", idempotency_key="t-1").replayed
    adjusted = grants.adjust(workspace.id, -500_000, staff, "double-billed request r-9")
    assert (granted.balance_after, adjusted.balance_after) == (12_000_000, 11_500_000)
    with pytest.raises(ledger.InsufficientCredits):
        grants.adjust(workspace.id, -11_500_001, staff, "too much")
    for kind, amount in (("grant", 2_000_000), ("adjustment", -500_000)):
        [entry] = [e for e in entries(workspace.id, kind) if e.actor_label != "test"]
        assert (entry.amount_micro, entry.actor_user_id, entry.actor_label) == (amount, staff.id, staff.email)
        assert entry.note
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.workspace_id == workspace.id)).all()
    assert sorted(actions) == ["credits.adjustment", "credits.grant"]
    assert ledger.recompute_balance(workspace.id) == 11_500_000


@pytest.fixture
def provider(app, fake_stripe):
    app.config.update(STRIPE_SECRET_KEY="sk_test_123", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                      STRIPE_API_BASE=fake_stripe.url)
    return stripe_checkout.payment_provider(app)


def test_payments_not_configured(app):
    assert stripe_checkout.payment_provider(app) is None


def test_start_checkout_sends_a_form_encoded_session(provider, fake_stripe, factories, workspace):
    user = factories.user()
    checkout = provider.start_checkout(workspace, 12_340_000, user, "https://eg.test/ok", "https://eg.test/no")
    [request] = fake_stripe.requests
    assert request["path"] == "/v1/checkout/sessions"
    assert request["headers"]["Authorization"] == "Bearer sk_test_123"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(request["body"]).items()}
    assert form == {
        "mode": "payment", "client_reference_id": str(workspace.id),
        "line_items[0][price_data][currency]": "cny",
        "line_items[0][price_data][product_data][name]": "EtherGate credits",
        "line_items[0][price_data][unit_amount]": "1234", "line_items[0][quantity]": "1",
        "metadata[workspace_id]": str(workspace.id), "metadata[amount_micro]": "12340000",
        "metadata[user_id]": str(user.id), "success_url": "https://eg.test/ok", "cancel_url": "https://eg.test/no",
    }
    assert checkout.url.startswith("https://checkout.stripe.com/") and checkout.external_id.startswith("cs_test_")
    payment = db.session.scalar(select(Payment).where(Payment.external_id == checkout.external_id))
    assert (payment.status, payment.amount_micro, payment.workspace_id) == ("pending", 12_340_000, workspace.id)
    assert ledger.account_state(workspace.id) == (10_000_000, 0)


def test_checkout_refuses_fractions_of_a_fen(provider, fake_stripe, workspace):
    with pytest.raises(topup_errors.InvalidAmount, match="2 decimal places"):
        provider.start_checkout(workspace, 12_345_678, None, "https://eg.test/ok", "https://eg.test/no")
    assert fake_stripe.requests == []


def test_paid_webhook_credits_once_across_replays_and_event_ids(provider, workspace):
    session = start(provider, workspace)
    payload, header = signed(session_event("evt_1", "checkout.session.completed", session,
                                           payment_status="paid", status="complete"))
    first = provider.handle_webhook(payload, header)
    assert first.credited and first.entry.amount == 50_000_000 and first.workspace_id == workspace.id
    replay = provider.handle_webhook(payload, header)
    assert replay.duplicate and not replay.credited
    payload, header = signed(session_event("evt_2", "checkout.session.async_payment_succeeded", session,
                                           payment_status="paid", status="complete"))
    other = provider.handle_webhook(payload, header)
    assert not other.credited and not other.duplicate
    assert ledger.account_state(workspace.id) == (60_000_000, 0)
    [entry] = entries(workspace.id, "topup")
    assert entry.idempotency_key == f"stripe:{session['id']}"
    payment = db.session.scalar(select(Payment).where(Payment.external_id == session["id"]))
    assert payment.status == "paid" and payment.completed_at is not None
    assert db.session.scalar(select(func.count()).select_from(PaymentEvent)) == 2


def test_unpaid_completion_waits_for_the_async_payment(provider, workspace):
    session = start(provider, workspace, 8_000_000)
    payload, header = signed(session_event("evt_a", "checkout.session.completed", session, status="complete"))
    assert not provider.handle_webhook(payload, header).credited
    assert ledger.account_state(workspace.id) == (10_000_000, 0)
    payload, header = signed(session_event("evt_b", "checkout.session.async_payment_succeeded", session,
                                           payment_status="paid", status="complete"))
    assert provider.handle_webhook(payload, header).credited
    assert ledger.account_state(workspace.id) == (18_000_000, 0)


def test_other_events_are_recorded_and_expiry_closes_the_payment(provider, workspace):
    session = start(provider, workspace)
    for event_id, event_type in (("evt_x", "payment_intent.created"), ("evt_y", "checkout.session.expired")):
        payload, header = signed(session_event(event_id, event_type, session, status="expired"))
        result = provider.handle_webhook(payload, header)
        assert not result.credited and not result.duplicate
    assert db.session.scalar(select(Payment.status).where(Payment.external_id == session["id"])) == "expired"
    assert db.session.scalar(select(func.count()).select_from(PaymentEvent)) == 2
    assert ledger.account_state(workspace.id) == (10_000_000, 0)


def test_bad_signature_is_rejected_and_nothing_recorded(provider, workspace):
    session = start(provider, workspace)
    event = session_event("evt_bad", "checkout.session.completed", session, payment_status="paid")
    payload, _ = signed(event)
    _, forged = signed(event, secret="whsec_wrong")
    for header in (forged, "", "t=1,v1=deadbeef"):
        with pytest.raises(stripe_checkout.WebhookRejected):
            provider.handle_webhook(payload, header)
    _, header = signed(event)
    with pytest.raises(stripe_checkout.WebhookRejected):
        provider.handle_webhook(payload.replace(b"50000000", b"99000000"), header)
    assert db.session.scalar(select(func.count()).select_from(PaymentEvent)) == 0
    assert ledger.account_state(workspace.id) == (10_000_000, 0)


def test_paid_session_we_never_recorded_is_credited_from_its_signed_metadata(provider, workspace):
    session = start(provider, workspace, 3_000_000)
    db.session.execute(Payment.__table__.delete())
    db.session.commit()
    payload, header = signed(session_event("evt_r", "checkout.session.completed", session, payment_status="paid"))
    assert provider.handle_webhook(payload, header).credited
    assert ledger.account_state(workspace.id) == (13_000_000, 0)


def test_amount_mismatch_is_not_credited(provider, workspace):
    session = start(provider, workspace, 3_000_000)
    payload, header = signed(session_event("evt_m", "checkout.session.completed", session,
                                           payment_status="paid", amount_total=1))
    result = provider.handle_webhook(payload, header)
    assert not result.credited and "review" in result.detail
    assert ledger.account_state(workspace.id) == (10_000_000, 0)


def test_concurrent_deliveries_credit_once(app, provider, workspace):
    session = start(provider, workspace, 20_000_000)
    # Four distinct events, each delivered twice, all racing.
    types = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
    deliveries = [signed(session_event(f"evt_c{i % 4}", types[i % 2], session, payment_status="paid"))
                  for i in range(8)]
    db.session.commit()  # the main thread must not sit in a transaction (on SQLite, the write lock)
    results = run_threads(app, 8, lambda i: provider.handle_webhook(*deliveries[i]))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.credited for r in results) == 1
    assert ledger.account_state(workspace.id) == (30_000_000, 0)
    assert len(entries(workspace.id, "topup")) == 1
