"""The console's Credits page: balance, top-ups (redemption codes, card payments), the ledger and its CSV.

Every member sees the balance and the ledger; only owners and admins top up. Failed redemptions
are counted per workspace (REDEEM_FAILURES_PER_HOUR, 10 by default) in the same attempt store as
sign-in throttling, so guessing codes is slow and, with Redis, limited across every process.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from flask import (Blueprint, Response, abort, current_app, flash, g, make_response, request, stream_with_context,
                   url_for)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from ..accounts.throttle import login_throttle
from ..billing import codes, stripe_checkout, topup_errors
from ..billing.ledger import account_state
from ..billing.models import DEFAULT_LOW_BALANCE_MICRO, LedgerEntry, Payment
from ..extensions import db
from ..i18n import format_money
from ..security import CONTENT_SECURITY_POLICY
from ..timeutil import utcnow
from ..usage.ledger_csv import ledger_csv as ledger_csv_rows
from .credit_forms import CheckoutForm, RedeemForm
from .shell import htmx
from .shell.access import workspace_view
from .shell.rendering import oob_flash, render, render_block

bp = Blueprint("billing", __name__, url_prefix="/console/w/<slug>/credits")

PAGE_SIZE = 25
REDEEM_WINDOW_SECONDS = 3600
POLL_FOR = timedelta(minutes=30)
STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"


@bp.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    if stripe_checkout.payment_provider(current_app) is not None and response.mimetype == "text/html":
        # Without JavaScript the checkout form is answered by a redirect to Stripe, which form-action must allow.
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'", f"form-action 'self' {STRIPE_CHECKOUT_ORIGIN}")
    return response


@bp.app_template_global("usage_request_url")
def usage_request_url(request_id: str | None) -> str | None:
    """The usage page of one request, when the usage pages are installed; None otherwise."""
    if not request_id or "usage.request_detail" not in current_app.view_functions:
        return None
    try:
        return url_for("usage.request_detail", request_id=request_id)
    except BuildError:
        return None


@dataclass(frozen=True)
class Balance:
    balance_micro: int
    held_micro: int
    threshold_micro: int

    @property
    def available_micro(self) -> int:
        return self.balance_micro - self.held_micro

    @property
    def low(self) -> bool:
        return self.available_micro < self.threshold_micro


@dataclass(frozen=True)
class LedgerPage:
    entries: list
    page: int
    pages: int
    total: int


def balance_of(workspace) -> Balance:
    balance, held = account_state(workspace.id)
    threshold = workspace.low_balance_micro if workspace.low_balance_micro is not None else DEFAULT_LOW_BALANCE_MICRO
    return Balance(balance, held, threshold)


def ledger_page(workspace_id: int, page: int) -> LedgerPage:
    total = db.session.scalar(select(func.count()).select_from(LedgerEntry)
                              .where(LedgerEntry.workspace_id == workspace_id)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.workspace_id == workspace_id)
                                 .order_by(LedgerEntry.id.desc()).offset((page - 1) * PAGE_SIZE)
                                 .limit(PAGE_SIZE)).all()
    return LedgerPage(list(entries), page, pages, total)


def _context(redeem_form: RedeemForm | None = None, checkout_form: CheckoutForm | None = None, **extra) -> dict:
    return {"balance": balance_of(g.workspace),
            "ledger": ledger_page(g.workspace.id, request.args.get("page", 1, type=int)),
            "redeem_form": redeem_form or RedeemForm(formdata=None),
            "checkout_form": checkout_form or CheckoutForm(formdata=None),
            "payments_enabled": stripe_checkout.payment_provider(current_app) is not None,
            "credits_contact": current_app.config.get("CREDITS_CONTACT"), **extra}


def _user():
    return current_user._get_current_object()


@bp.get("/")
@workspace_view()
def credits():
    return render("billing/credits.html", **_context())


def _throttle_key() -> str:
    return f"redeem:workspace:{g.workspace.id}"


def _redeem_wait() -> float:
    """Seconds until this workspace may try another code; 0 when it may now."""
    limit = current_app.config.get("REDEEM_FAILURES_PER_HOUR", 10)
    count, wait = login_throttle().store.recent(_throttle_key(), REDEEM_WINDOW_SECONDS)
    return max(wait, 1.0) if count >= limit else 0.0


@bp.post("/redeem")
@workspace_view(min_role="admin")
def redeem():
    form = RedeemForm()
    entry, status = None, 422
    if form.validate_on_submit():
        wait = _redeem_wait()
        if wait:
            minutes = math.ceil(wait / 60)
            form.code.errors.append(ngettext(
                "Too many invalid codes for this workspace. Try again in %(num)s minute.",
                "Too many invalid codes for this workspace. Try again in %(num)s minutes.", minutes))
            status = 422 if htmx.target() == "credit_redeem" else 429
        else:
            try:
                entry = codes.redeem_code(g.workspace.id, form.code.data, _user())
            except topup_errors.TopupError as exc:
                login_throttle().store.add(_throttle_key(), REDEEM_WINDOW_SECONDS)
                form.code.errors.append(_redeem_error(exc))
            else:
                status = 200
    if htmx.target() == "credit_redeem":
        context = _context(redeem_form=RedeemForm(formdata=None) if entry else form, redeemed=entry)
        body = render_block("billing/credits.html", "credit_redeem", **context)
        if entry:
            body += (render_block("billing/credits.html", "credit_balance", balance_oob=True, **context)
                     + render_block("billing/credits.html", "ledger_table", ledger_oob=True, **context))
        return htmx.vary(make_response(body + oob_flash(), status))
    if entry:
        flash(_("Code redeemed: %(amount)s added.", amount=format_money(entry.amount)), "success")
        return htmx.redirect(url_for("billing.credits"))
    return render("billing/credits.html", status=status, **_context(redeem_form=form))


def _redeem_error(exc: topup_errors.TopupError) -> str:
    if isinstance(exc, codes.CodeAlreadyRedeemed):
        return _("This code was already redeemed by this workspace.") if exc.by_this_workspace \
            else _("This code has already been redeemed.")
    if isinstance(exc, codes.CodeExpired):
        return _("This code expired on %(when)s UTC.", when=exc.expires_at.strftime("%Y-%m-%d %H:%M"))
    if isinstance(exc, codes.UnknownCode):
        return _("This redemption code is not valid. Check it and try again.")
    return str(exc)


@bp.post("/checkout")
@workspace_view(min_role="admin")
def checkout():
    provider = stripe_checkout.payment_provider(current_app)
    if provider is None:
        abort(404)
    form = CheckoutForm()
    if form.validate_on_submit():
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        # Stripe fills in {CHECKOUT_SESSION_ID}; url_for would escape the braces.
        success_url = base + url_for("billing.checkout_success") + "?session_id={CHECKOUT_SESSION_ID}"
        cancel_url = base + url_for("billing.checkout_cancel")
        try:
            session = provider.start_checkout(g.workspace, form.amount_micro, _user(), success_url, cancel_url)
        except topup_errors.TopupError as exc:
            form.amount.errors.append(_("The payment could not be started. Please try again later.")
                                      if isinstance(exc, stripe_checkout.PaymentError)
                                      else _("Enter an amount with at most 2 decimal places."))
        else:
            return htmx.redirect(session.url)
    return render("billing/credits.html", status=422, **_context(checkout_form=form))


def _payment_or_404(session_id: str) -> Payment:
    payment = db.session.scalar(select(Payment).where(
        Payment.external_id == session_id, Payment.workspace_id == g.workspace.id)) if session_id else None
    if payment is None:
        abort(404)
    return payment


@bp.get("/checkout/success")
@workspace_view(min_role="admin")
def checkout_success():
    """Stripe's return page; polls every 2 s (htmx) until the webhook has credited the payment."""
    payment = _payment_or_404(request.args.get("session_id", ""))
    polling = payment.status == "pending" and utcnow() - payment.created_at < POLL_FOR
    context = {"payment": payment, "polling": polling, "balance": balance_of(g.workspace), "outcome": "success"}
    if htmx.target() == "credit_payment":
        body = render_block("billing/checkout.html", "credit_payment", **context)
        return htmx.vary(make_response(body)) if polling else htmx.stop_polling(body)
    return render("billing/checkout.html", **context)


@bp.get("/checkout/cancel")
@workspace_view(min_role="admin")
def checkout_cancel():
    return render("billing/checkout.html", payment=None, polling=False, outcome="cancel")


@bp.get("/ledger.csv")
@workspace_view()
def ledger_csv():
    filename = f"ethergate-{g.workspace.slug}-ledger-{utcnow():%Y%m%d}.csv"
    rows = ledger_csv_rows(g.workspace.id, current_app.config["CURRENCY"])
    response = Response(stream_with_context(rows), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
