"""Sign up, sign in (throttled), sign out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..accounts.services import AccountError, find_user
from ..extensions import db, login_manager
from ..i18n import SESSION_KEY as LOCALE_KEY
from ..security import login_throttle, minutes
from . import htmx
from .forms import LoginForm, SignupForm
from .rendering import render
from .services import authenticate, record_sign_in, sign_up

bp = Blueprint("auth", __name__)


@bp.after_request
def private_page(response):
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


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
    """A fresh session for the user, keeping only the language choice."""
    locale = session.get(LOCALE_KEY) or user.locale
    session.clear()
    if locale:
        session[LOCALE_KEY] = locale
    login_user(user, remember=remember)


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return htmx.redirect(url_for("console.index"))
    form = SignupForm()
    if form.validate_on_submit():
        if find_user(form.email.data) is not None:
            form.email.errors.append(_("An account with this email already exists. Sign in instead."))
        else:
            try:
                user, joined = sign_up(form.email.data, form.password.data)
            except (AccountError, IntegrityError):
                form.email.errors.append(_("An account with this email already exists. Sign in instead."))
            else:
                start_session(user)
                flash(_("Welcome to EtherGate. Your account is ready."), "success")
                for workspace in joined:
                    flash(_("You joined %(name)s.", name=workspace.name), "success")
                return htmx.redirect(url_for("console.index"))
    return render("auth/signup.html", status=422 if form.errors else 200, form=form)


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
        else:
            throttle.succeeded(email)
            joined = record_sign_in(user)
            start_session(user, remember=form.remember.data)
            for workspace in joined:
                flash(_("You joined %(name)s.", name=workspace.name), "success")
            return htmx.redirect(safe_next(request.args.get("next")) or url_for("console.index"))
    elif form.errors:
        status = 422
    return render("auth/login.html", status=status, form=form, error=error)


def too_many_attempts(wait_seconds: float) -> str:
    count = minutes(wait_seconds)
    return ngettext("Too many failed sign-in attempts. Try again in %(num)s minute.",
                    "Too many failed sign-in attempts. Try again in %(num)s minutes.", count)


@bp.post("/logout")
def logout():
    locale = session.get(LOCALE_KEY)
    session.clear()
    logout_user()  # after clear(): it leaves the flag that deletes a remember-me cookie
    if locale:
        session[LOCALE_KEY] = locale
    flash(_("You are signed out."), "info")
    return htmx.redirect(url_for("site.landing"))
