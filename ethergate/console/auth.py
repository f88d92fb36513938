"""Sign up, sign in (throttled, with the two-factor step), sign out, and the session rows behind them."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, flash, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from sqlalchemy.exc import IntegrityError

from .. import mail
from ..accounts import sessions as user_sessions
from ..accounts import two_factor as second_factor
from ..accounts.credentials import start_verification
from ..accounts.models import User
from ..accounts.services import AccountError, find_user
from ..accounts.throttle import login_throttle, minutes
from ..extensions import db, login_manager
from ..i18n import SESSION_KEY as LOCALE_KEY
from ..i18n import current_language
from .forms import LoginForm, SignupForm, TwoFactorForm
from .services import authenticate, record_sign_in, sign_up
from .shell import htmx
from .shell.links import public_url
from .shell.rendering import render

bp = Blueprint("auth", __name__)

PENDING_KEY = "two_factor_pending"
PENDING_SECONDS = 5 * 60


@bp.after_request
def private_page(response):
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """"<user id>:<session key>": the user, while their session row has not been ended."""
    uid, _, key = user_id.partition(":")
    if not uid.isdigit() or not key:
        return None
    row = user_sessions.live(int(uid), key)
    user = db.session.get(User, int(uid)) if row is not None else None
    if user is None:
        return None
    user.session_key = key
    user_sessions.touch(row, request.remote_addr)
    return user


@login_manager.unauthorized_handler
def unauthorized():
    flash(_("Sign in to continue."), "info")
    target = None
    if request.method == "GET":
        target = request.full_path if request.query_string else request.path
    return htmx.redirect(url_for("auth.login", next=target))


def safe_next(value: str | None) -> str | None:
    """A same-site path to return to after sign-in, or None (never an absolute or scheme-relative URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


def start_session(user: User, remember: bool = False) -> None:
    """A fresh session (and session row) for the user, keeping only the language choice."""
    locale = session.get(LOCALE_KEY) or user.locale
    session.clear()
    if locale:
        session[LOCALE_KEY] = locale
    user.session_key = user_sessions.start(user, request.remote_addr, request.headers.get("User-Agent"))
    login_user(user, remember=remember)


def send_verification(user: User) -> mail.OutboxMessage:
    token = start_verification(user)
    return mail.send(user.email, "verify_email", user.locale or current_language().tag,
                     link=public_url("auth.verify_email", token=token), email=user.email)


def flash_verification(message) -> None:
    if message.status == mail.SENT:
        flash(_("We sent a link to %(email)s to verify the address.", email=message.recipient), "info")
    else:
        flash(_("Your address is not verified yet, and this instance could not email you a link. "
                "An operator can find it in the outbox, or set up email."), "warning")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return htmx.redirect(url_for("console.index"))
    form = SignupForm()
    invitation = request.args.get("invitation") or None
    if not form.is_submitted() and request.args.get("email"):
        form.email.data = request.args["email"]
    if form.validate_on_submit():
        if find_user(form.email.data) is not None:
            form.email.errors.append(_("An account with this email already exists. Sign in instead."))
        else:
            try:
                user, joined = sign_up(form.email.data, form.password.data, locale=current_language().tag,
                                       invitation_token=invitation)
            except (AccountError, IntegrityError):
                form.email.errors.append(_("An account with this email already exists. Sign in instead."))
            else:
                start_session(user)
                flash(_("Welcome to EtherGate. Your account is ready."), "success")
                for workspace in joined:
                    flash(_("You joined %(name)s.", name=workspace.name), "success")
                if not user.email_verified:
                    flash_verification(send_verification(user))
                return htmx.redirect(url_for("console.index"))
    return render("auth/signup.html", status=422 if form.errors else 200, form=form, invitation=invitation)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return htmx.redirect(safe_next(request.args.get("next")) or url_for("console.index"))
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        throttle, ip = login_throttle(), request.remote_addr
        wait = throttle.retry_after(email, ip)
        user = None if wait else authenticate(email, form.password.data)
        if wait:
            error, status = too_many_attempts(wait), 429
        elif user is None:
            throttle.failed(email, ip)
            error, status = _("Wrong email or password."), 422
        elif user.two_factor_enabled:
            # The email's failure count is cleared only after the second step, so it also limits codes.
            locale = session.get(LOCALE_KEY)
            session.clear()
            if locale:
                session[LOCALE_KEY] = locale
            session[PENDING_KEY] = {"user_id": user.id, "remember": bool(form.remember.data),
                                    "next": safe_next(request.args.get("next")), "at": time.time()}
            return htmx.redirect(url_for("auth.two_factor"))
        else:
            throttle.succeeded(email)
            return finish_sign_in(user, form.remember.data, safe_next(request.args.get("next")))
    elif form.errors:
        status = 422
    return render("auth/login.html", status=status, form=form, error=error)


def finish_sign_in(user: User, remember: bool, next_path: str | None):
    joined = record_sign_in(user)
    start_session(user, remember=remember)
    for workspace in joined:
        flash(_("You joined %(name)s.", name=workspace.name), "success")
    return htmx.redirect(next_path or url_for("console.index"))


def pending_user() -> tuple[User | None, dict]:
    pending = session.get(PENDING_KEY) or {}
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, {}
    return db.session.get(User, pending["user_id"]), pending


@bp.route("/login/two-factor", methods=["GET", "POST"])
def two_factor():
    """The second step: a code from the authenticator app, or one recovery code."""
    user, pending = pending_user()
    if user is None or not user.two_factor_enabled:
        session.pop(PENDING_KEY, None)
        flash(_("Sign in again to continue."), "info")
        return htmx.redirect(url_for("auth.login"))
    form = TwoFactorForm()
    error, status = None, 200
    if form.validate_on_submit():
        throttle, ip = login_throttle(), request.remote_addr
        wait = throttle.retry_after(user.email, ip)
        used = None if wait else second_factor.verify_second_factor(user, form.code.data)
        if wait:
            error, status = too_many_attempts(wait), 429
        elif used is None:
            throttle.failed(user.email, ip)
            error, status = _("That code is not right, or was already used. Try the current code."), 422
        else:
            throttle.succeeded(user.email)
            session.pop(PENDING_KEY, None)
            response = finish_sign_in(user, pending.get("remember", False), pending.get("next"))
            if used == "recovery":  # after the sign-in, whose fresh session would drop an earlier flash
                left = second_factor.recovery_codes_left(user)
                flash(ngettext("You used a recovery code; %(num)s is left. Make new ones on your account page.",
                               "You used a recovery code; %(num)s are left. Make new ones on your account page.",
                               left), "warning")
            return response
    elif form.errors:
        status = 422
    return render("auth/two_factor.html", status=status, form=form, error=error)


def too_many_attempts(wait_seconds: float) -> str:
    count = minutes(wait_seconds)
    return ngettext("Too many failed sign-in attempts. Try again in %(num)s minute.",
                    "Too many failed sign-in attempts. Try again in %(num)s minutes.", count)


@bp.post("/logout")
def logout():
    locale = session.get(LOCALE_KEY)
    if current_user.is_authenticated and getattr(current_user, "session_key", None):
        user_sessions.end_key(current_user._get_current_object(), current_user.session_key)
    session.clear()
    logout_user()  # after clear(): it leaves the flag that deletes a remember-me cookie
    if locale:
        session[LOCALE_KEY] = locale
    flash(_("You are signed out."), "info")
    return htmx.redirect(url_for("site.landing"))


def current_session_key() -> str | None:
    return getattr(current_user, "session_key", None) if current_user.is_authenticated else None

