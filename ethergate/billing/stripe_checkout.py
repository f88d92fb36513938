"""Card payments through Stripe Checkout: a pending payment per checkout, credited once on the paid webhook.

Each webhook is recorded by its event ID and the payment flipped with a conditional UPDATE in the same
transaction as the ledger credit, so a redelivered or concurrent event never credits twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import stripe
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..accounts.models import User
from ..accounts.services import record_audit
from ..database import unit_of_work
from ..extensions import db
from ..timeutil import utcnow
from . import ledger
from .models import Payment, PaymentEvent
from .topup_errors import InvalidAmount, TopupError

log = logging.getLogger(__name__)

payments = Payment.__table__
payment_events = PaymentEvent.__table__


class PaymentError(TopupError):
    pass


class WebhookRejected(TopupError):
    pass


@dataclass(frozen=True)
class CheckoutSession:
    url: str
    external_id: str


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    event_type: str
    duplicate: bool = False
    credited: bool = False
    payment_id: int | None = None
    workspace_id: int | None = None
    entry: ledger.PostedEntry | None = None
    detail: str = ""


class PaymentProvider(Protocol):
    name: str

    def start_checkout(self, workspace, amount_micro: int, user: User | None, success_url: str,
                       cancel_url: str) -> CheckoutSession: ...

    def handle_webhook(self, payload: bytes, signature_header: str) -> WebhookResult: ...


# Stripe's zero-decimal currencies; every other supported currency has two decimals.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
CREDITING_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
CLOSING_EVENTS = {"checkout.session.expired": "expired", "checkout.session.async_payment_failed": "failed"}


def to_minor_units(amount_micro: int, currency: str) -> int:
    """12_340_000 micro CNY -> 1234 fen; refuses amounts that are not whole minor units."""
    per_minor = 1_000_000 if currency.upper() in ZERO_DECIMAL else 10_000
    if amount_micro <= 0:
        raise InvalidAmount("the amount must be positive")
    if amount_micro % per_minor:
        places = 0 if per_minor == 1_000_000 else 2
        raise InvalidAmount(f"{currency.upper()} amounts can have at most {places} decimal places")
    return amount_micro // per_minor


def _insert_ignoring_conflict(conn: Connection, table, **values):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return conn.execute(dialect.insert(table).values(**values).on_conflict_do_nothing()
                        .returning(table.c.id)).scalar()


class StripeCheckout:
    """Stripe Checkout in payment mode: one line item for the amount, credited on the paid webhook."""
    name = "stripe"

    def __init__(self, secret_key: str, webhook_secret: str, currency: str, api_base: str | None = None):
        self.currency = currency.upper()
        self._webhook_secret = webhook_secret
        # A client per app, not the module globals, so two apps (or tests) never share settings.
        self._client = stripe.StripeClient(secret_key, base_addresses={"api": api_base} if api_base else None)

    def start_checkout(self, workspace, amount_micro: int, user: User | None, success_url: str,
                       cancel_url: str) -> CheckoutSession:
        minor = to_minor_units(amount_micro, self.currency)
        workspace_id = workspace if isinstance(workspace, int) else workspace.id
        user_id = user.id if user is not None else None
        metadata = {"workspace_id": str(workspace_id), "amount_micro": str(amount_micro)}
        if user_id is not None:
            metadata["user_id"] = str(user_id)
        try:
            session = self._client.v1.checkout.sessions.create(params={
                "mode": "payment",
                "line_items": [{"price_data": {"currency": self.currency.lower(),
                                               "product_data": {"name": "EtherGate credits"},
                                               "unit_amount": minor},
                                "quantity": 1}],
                "client_reference_id": str(workspace_id),
                "metadata": metadata,
                "success_url": success_url,
                "cancel_url": cancel_url,
            })
        except stripe.StripeError as exc:
            log.warning("stripe checkout for workspace %s failed: %s", workspace_id, exc)
            raise PaymentError("The payment could not be started. Please try again later.") from exc
        with unit_of_work() as conn:
            conn.execute(insert(payments).values(
                provider=self.name, external_id=session.id, workspace_id=workspace_id, amount_micro=amount_micro,
                status="pending", created_by_id=user_id, created_at=utcnow()))
        return CheckoutSession(url=session.url, external_id=session.id)

    def handle_webhook(self, payload: bytes, signature_header: str) -> WebhookResult:
        try:
            event = self._client.construct_event(payload, signature_header, self._webhook_secret).to_dict()
        except stripe.SignatureVerificationError:
            raise WebhookRejected("the Stripe-Signature header does not match this payload") from None
        except (ValueError, KeyError, TypeError):
            raise WebhookRejected("the payload is not a Stripe event") from None
        event_id, event_type = str(event.get("id") or ""), str(event.get("type") or "")
        if not event_id:
            raise WebhookRejected("the event has no id")
        data = event.get("data")
        session = (data.get("object") if isinstance(data, dict) else None) or {}
        if not isinstance(session, dict):
            raise WebhookRejected("the event's data.object is not an object")
        now = utcnow()
        with unit_of_work() as conn:
            if _insert_ignoring_conflict(conn, payment_events, provider=self.name, event_id=event_id,
                                         event_type=event_type[:64], received_at=now) is None:
                return WebhookResult(event_id, event_type, duplicate=True, detail="already processed")
            paid = event_type in CREDITING_EVENTS and (
                event_type != "checkout.session.completed" or session.get("payment_status") == "paid")
            if paid:
                return self._credit(conn, event_id, event_type, session, now)
            if event_type in CLOSING_EVENTS and session.get("id"):
                conn.execute(update(payments).where(payments.c.provider == self.name,
                                                    payments.c.external_id == session["id"],
                                                    payments.c.status == "pending")
                             .values(status=CLOSING_EVENTS[event_type], completed_at=now))
            return WebhookResult(event_id, event_type, detail="recorded, nothing to credit")

    def _credit(self, conn: Connection, event_id: str, event_type: str, session: dict,
                now: datetime) -> WebhookResult:
        session_id = str(session.get("id") or "")
        row = self._payment_row(conn, session_id, session, now)
        if row is None:
            return WebhookResult(event_id, event_type, detail=f"no payment for session {session_id!r}")
        mismatch = self._mismatch(row.amount_micro, session)
        if mismatch:
            log.error("stripe session %s not credited: %s", session_id, mismatch)
            return WebhookResult(event_id, event_type, payment_id=row.id, workspace_id=row.workspace_id,
                                 detail=mismatch)
        claimed = conn.execute(
            update(payments).where(payments.c.id == row.id, payments.c.status != "paid")
            .values(status="paid", completed_at=now).returning(payments.c.id)).scalar()
        if claimed is None:
            return WebhookResult(event_id, event_type, payment_id=row.id, workspace_id=row.workspace_id,
                                 detail="payment already credited")
        entry = ledger.append(conn, row.workspace_id, row.amount_micro, "topup", reference=session_id,
                              idempotency_key=f"stripe:{session_id}", note="Card payment (Stripe Checkout)",
                              actor_user_id=row.created_by_id, created_at=now)
        buyer = db.session.get(User, row.created_by_id) if row.created_by_id is not None else None
        record_audit("credits.topup", actor=buyer, actor_label=None if buyer else "stripe",
                     workspace_id=row.workspace_id, target=session_id,
                     details={"amount_micro": row.amount_micro, "entry_id": entry.id, "payment_id": row.id})
        return WebhookResult(event_id, event_type, credited=True, payment_id=row.id,
                             workspace_id=row.workspace_id, entry=entry, detail="credited")

    def _payment_row(self, conn: Connection, session_id: str, session: dict, now: datetime):
        query = select(payments).where(payments.c.provider == self.name, payments.c.external_id == session_id)
        row = conn.execute(query).first()
        if row is not None or not session_id:
            return row
        # The checkout was created but we crashed before recording it: the signed metadata is ours.
        metadata = session.get("metadata") or {}
        workspace, amount = metadata.get("workspace_id"), metadata.get("amount_micro")
        if not (workspace and amount and workspace.isdigit() and amount.isdigit()
                and session.get("client_reference_id") == workspace):
            return None
        user = metadata.get("user_id")
        _insert_ignoring_conflict(conn, payments, provider=self.name, external_id=session_id,
                                  workspace_id=int(workspace), amount_micro=int(amount), status="pending",
                                  created_by_id=int(user) if user and user.isdigit() else None, created_at=now)
        return conn.execute(query).first()

    def _mismatch(self, amount_micro: int, session: dict) -> str:
        currency = str(session.get("currency") or self.currency).upper()
        if currency != self.currency:
            return f"paid in {currency}, expected {self.currency}"
        total = session.get("amount_total")
        if total is not None and total != to_minor_units(amount_micro, self.currency):
            return f"amount_total {total} does not match the recorded payment; needs review"
        return ""


def payment_provider(app) -> PaymentProvider | None:
    """The configured payment provider for this app, or None when payments are not set up."""
    secret, webhook_secret = app.config.get("STRIPE_SECRET_KEY"), app.config.get("STRIPE_WEBHOOK_SECRET")
    if not (secret and webhook_secret):
        return None
    provider = app.extensions.get("ethergate_payments")
    if provider is None:
        provider = app.extensions["ethergate_payments"] = StripeCheckout(
            secret, webhook_secret, app.config.get("CURRENCY", "CNY"), app.config.get("STRIPE_API_BASE"))
    return provider
