"""The account page: email (verify, change), password, two-factor sign-in, and signed-in sessions."""
from __future__ import annotations

from flask import Blueprint, abort, flash, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import mail
from ..accounts import credentials, two_factor
from ..accounts import sessions as user_sessions
from ..accounts.models import Membership, Workspace
from ..accounts.services import AccountError
from ..extensions import db
from ..i18n import current_language
from .auth import current_session_key, flash_verification, send_verification
from .forms import ChangeEmailForm, ChangePasswordForm, DisableTwoFactorForm, EnableTwoFactorForm
from .shell import htmx
from .shell.links import public_url
from .shell.rendering import render

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"
    return htmx.vary(response)


def me():
    return current_user._get_current_object()


def requiring_workspaces(user) -> list[Workspace]:
    return db.session.scalars(select(Workspace).join(Membership, Membership.workspace_id == Workspace.id).where(
        Membership.user_id == user.id, Workspace.require_two_factor.is_(True)).order_by(Workspace.name)).all()


def account_page(status: int = 200, **forms):
    user = me()
    context = {
        "password_form": forms.get("password_form") or ChangePasswordForm(formdata=None, prefix="pw"),
        "email_form": forms.get("email_form") or ChangeEmailForm(formdata=None, prefix="em"),
        "disable_form": forms.get("disable_form") or DisableTwoFactorForm(formdata=None, prefix="off"),
        "codes_form": forms.get("codes_form") or EnableTwoFactorForm(formdata=None, prefix="rc"),
        "sessions": user_sessions.active(user),
        "this_session": user_sessions.live(user.id, current_session_key() or "-"),
        "codes_left": two_factor.recovery_codes_left(user) if user.two_factor_enabled else 0,
        "required_by": requiring_workspaces(user),
    }
    return render("account/index.html", status=status, **context)


@bp.get("/")
@login_required
def index():
    return account_page()


@bp.post("/password")
@login_required
def change_password():
    form = ChangePasswordForm(prefix="pw")
    if form.validate_on_submit():
        try:
            ended = credentials.change_password(me(), form.current.data, form.password.data, current_session_key())
        except AccountError:
            form.current.errors.append(_("That is not your current password."))
        else:
            flash(ngettext("Password changed. %(num)s other session was signed out.",
                           "Password changed. %(num)s other sessions were signed out.", ended), "success")
            return htmx.redirect(url_for("account.index"))
    return account_page(status=422, password_form=form)


@bp.post("/email")
@login_required
def change_email():
    form = ChangeEmailForm(prefix="em")
    if form.validate_on_submit():
        user = me()
        try:
            new_email, token = credentials.request_email_change(user, form.email.data, form.current.data)
        except AccountError as exc:
            message = str(exc)
            if "password" in message:
                form.current.errors.append(_("That is not your current password."))
            elif "already your" in message:
                form.email.errors.append(_("That is already your email address."))
            else:
                form.email.errors.append(_("Another account uses that email address."))
        else:
            sent = mail.send(new_email, "change_email", user.locale or current_language().tag,
                             link=public_url("auth.confirm_email", token=token), old=user.email, new=new_email)
            if sent.status == mail.SENT:
                flash(_("We sent a link to %(email)s. Your address changes when you open it.", email=new_email),
                      "info")
            else:
                flash(_("This instance could not email %(email)s, so your address stays as it is. An operator can "
                        "find the confirmation link in the outbox.", email=new_email), "warning")
            return htmx.redirect(url_for("account.index"))
    return account_page(status=422, email_form=form)


@bp.post("/verification")
@login_required
def resend_verification():
    user = me()
    if user.email_verified:
        flash(_("%(email)s is already verified.", email=user.email), "info")
    else:
        flash_verification(send_verification(user))
    return htmx.redirect(url_for("account.index"))


@bp.route("/two-factor", methods=["GET", "POST"])
@login_required
def two_factor_setup():
    """Show the setup key (kept on the account until confirmed); a right code turns two-factor on."""
    user = me()
    if user.two_factor_enabled:
        return htmx.redirect(url_for("account.index"))
    secret = two_factor.pending_secret(user)
    form = EnableTwoFactorForm()
    if form.validate_on_submit():
        codes = two_factor.enable(user, form.code.data)
        if codes is None:
            form.code.errors.append(_("That code does not match. Check the time on your phone and try the "
                                      "current code."))
        else:
            flash(_("Two-factor authentication is on."), "success")
            return render("account/recovery_codes.html", codes=codes)
    uri = two_factor.provisioning_uri(secret, user.email)
    return render("account/two_factor_setup.html", status=422 if form.errors else 200, form=form, secret=secret,
                  uri=uri, qr=two_factor.qr_code(uri))


@bp.post("/two-factor/disable")
@login_required
def disable_two_factor():
    user = me()
    form = DisableTwoFactorForm(prefix="off")
    if form.validate_on_submit():
        required_by = requiring_workspaces(user)
        if required_by:
            form.code.errors.append(_("%(names)s requires two-factor authentication; it stays on while you are a "
                                      "member.", names=", ".join(w.name for w in required_by)))
        elif not user.check_password(form.current.data or ""):
            form.current.errors.append(_("That is not your current password."))
        elif not two_factor.turn_off(user, form.code.data):
            form.code.errors.append(_("That code is not right, or was already used. Try the current code."))
        else:
            flash(_("Two-factor authentication is off."), "info")
            return htmx.redirect(url_for("account.index"))
    return account_page(status=422, disable_form=form)


@bp.post("/two-factor/recovery-codes")
@login_required
def new_recovery_codes():
    user = me()
    form = EnableTwoFactorForm(prefix="rc")
    if not user.two_factor_enabled:
        abort(404)
    if form.validate_on_submit():
        codes = two_factor.renew_recovery_codes(user, form.code.data)
        if codes is not None:
            return render("account/recovery_codes.html", codes=codes)
        form.code.errors.append(_("That code is not right, or was already used. Try the current code."))
    return account_page(status=422, codes_form=form)


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    user = me()
    this = user_sessions.live(user.id, current_session_key() or "-")
    if this is not None and this.id == session_id:
        abort(400)
    if not user_sessions.end(user, session_id=session_id):
        abort(404)
    flash(_("That session is signed out."), "success")
    return htmx.redirect(url_for("account.index"))


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions():
    user = me()
    ended = user_sessions.end_others(user, keep_key=current_session_key())
    flash(ngettext("%(num)s other session was signed out.", "%(num)s other sessions were signed out.", ended),
          "success")
    return htmx.redirect(url_for("account.index"))
