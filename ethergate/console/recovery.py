"""Pages opened from links in emails: reset a password, verify an address, confirm a new one, join by invite.

Every link opens a page with a button; only the POST uses the token, so a mail scanner that fetches
links does not spend it.
"""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from .. import mail
from ..accounts import credentials, tokens
from ..accounts.services import AccountError, find_user
from ..i18n import current_language
from ..security import minutes, reset_throttle
from .auth import bp, current_session_key
from .forms import ForgotPasswordForm, ResetPasswordForm
from .services import MemberError, accept_invitation_link, invitation_for_link, join_invited
from .shell import htmx
from .shell.links import public_url
from .shell.rendering import render


def link_problem(error: tokens.TokenError) -> str:
    if error.reason == "expired":
        return _("This link has expired. Ask for a new one.")
    if error.reason == "used":
        return _("This link was already used. Each link works once; ask for a new one if you need it.")
    return _("This link is not valid. Check that you copied all of it, or ask for a new one.")


def link_page(template: str, error: tokens.TokenError, **context):
    return render(template, status=410 if error.reason in ("expired", "used") else 404,
                  problem=link_problem(error), **context)


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    status, error, outcome = 200, None, None
    if form.validate_on_submit():
        email, ip = form.email.data, request.remote_addr
        throttle = reset_throttle()
        wait = throttle.retry_after(email, ip)
        if wait:
            count = minutes(wait)
            error, status = ngettext("Too many reset requests. Try again in %(num)s minute.",
                                     "Too many reset requests. Try again in %(num)s minutes.", count), 429
        else:
            throttle.failed(email, ip)  # every request counts: each one may send an email
            requested = credentials.request_password_reset(email)
            # Without an account the answer is the same as with one, so the page does not reveal accounts.
            outcome = "sent" if mail.smtp_configured() else "not_sent"
            if requested is not None:
                user, token = requested
                message = mail.send(user.email, "reset_password", user.locale or current_language().tag,
                                    link=public_url("auth.reset_password", token=token), email=user.email)
                if message.status == mail.FAILED:
                    outcome = "failed"
    elif form.errors:
        status = 422
    return render("auth/forgot.html", status=status, form=form, error=error, outcome=outcome,
                  email=form.email.data)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        row = tokens.peek(token, tokens.RESET_PASSWORD)
    except tokens.TokenError as error:
        return link_page("auth/reset.html", error, form=None)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            credentials.reset_password(token, form.password.data)
        except tokens.TokenError as error:
            return link_page("auth/reset.html", error, form=None)
        except AccountError:
            form.password.errors.append(_("Choose a password of 8 to 200 characters."))
        else:
            flash(_("Your password is changed and every session is signed out. Sign in with the new password."),
                  "success")
            return htmx.redirect(url_for("auth.login"))
    return render("auth/reset.html", status=422 if form.errors else 200, form=form, problem=None,
                  email=row.user.email)


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
def verify_email(token: str):
    try:
        row = tokens.peek(token, tokens.VERIFY_EMAIL)
    except tokens.TokenError as error:
        return link_page("auth/verify.html", error)
    if request.method == "POST":
        try:
            user = credentials.verify_email(token)
        except tokens.TokenError as error:
            return link_page("auth/verify.html", error)
        flash(_("%(email)s is verified.", email=user.email), "success")
        for workspace in join_invited(user):
            flash(_("You joined %(name)s.", name=workspace.name), "success")
        return htmx.redirect(url_for("console.index") if current_user.is_authenticated else url_for("auth.login"))
    return render("auth/verify.html", problem=None, email=row.user.email, action="verify")


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    try:
        row = tokens.peek(token, tokens.CHANGE_EMAIL)
    except tokens.TokenError as error:
        return link_page("auth/verify.html", error)
    if request.method == "POST":
        try:
            user, old = credentials.confirm_email_change(token)
        except tokens.TokenError as error:
            return link_page("auth/verify.html", error)
        except AccountError:
            return render("auth/verify.html", status=409, problem=_("Another account uses that email address now."))
        mail.send(old, "email_changed", user.locale or current_language().tag, old=old, new=user.email)
        flash(_("Your email address is now %(email)s.", email=user.email), "success")
        for workspace in join_invited(user):
            flash(_("You joined %(name)s.", name=workspace.name), "success")
        return htmx.redirect(url_for("account.index") if current_user.is_authenticated else url_for("auth.login"))
    return render("auth/verify.html", problem=None, email=row.new_email, action="change")


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """Signed out: sign up (or sign in) as the invited address. Signed in as it: accept."""
    try:
        invited = invitation_for_link(token)
    except tokens.TokenError as error:
        return link_page("auth/invitation.html", error, invitation=None)
    error = None
    if request.method == "POST" and current_user.is_authenticated:
        try:
            workspace = accept_invitation_link(token, current_user._get_current_object())
        except tokens.TokenError as token_error:
            return link_page("auth/invitation.html", token_error, invitation=None)
        except MemberError as exc:
            error = str(exc)
        else:
            flash(_("You joined %(name)s.", name=workspace.name), "success")
            return htmx.redirect(url_for("console.dashboard", slug=workspace.slug))
    has_account = find_user(invited.email) is not None
    return render("auth/invitation.html", status=422 if error else 200, problem=None, invitation=invited,
                  token=token, has_account=has_account, error=error, session_key=current_session_key())


