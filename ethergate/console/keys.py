"""The console's Keys pages: list, create (the key shown once), revoke, rotate, edit, and one key's activity.

Owners and admins manage every key; a member manages the keys they created and sees the others
read-only. Every key ID is looked up inside g.workspace (404 otherwise); managing a key one may only
see answers 403. A new key's plaintext exists only in the response that shows it: it is never put
in the session or a redirect, so a reload or "Done" can never show it again.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, make_response, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..accounts.models import User
from ..extensions import db
from ..keys.models import ApiKey
from ..keys.services import (UNSET, KeyNotFound, KeyPolicyError, create_key, get_key, list_keys, revoke_key, rotate_key,
                       update_key)
from ..timeutil import utcnow
from ..usage.key_activity import PERIODS, key_activity, month_spend, period
from .key_forms import KeyForm, key_form
from .shell import htmx
from .shell.access import can, workspace_view
from .shell.formats import when
from .shell.rendering import oob_flash, render, render_block, render_component

bp = Blueprint("keys", __name__, url_prefix="/console/w/<slug>/keys")

GRACE_CHOICES = (("0", _l("now")), ("3600", _l("in 1 hour")), ("86400", _l("in 24 hours")))
DEFAULT_GRACE = "3600"


# These pages can carry a key in plain text once; no cache may keep them.
bp.after_request(htmx.private_page)


@bp.context_processor
def key_helpers() -> dict:
    return {"now": utcnow(), "may_manage": may_manage, "creator_label": creator_label, "default_rpm": default_rpm(),
            "grace_choices": GRACE_CHOICES, "default_grace": DEFAULT_GRACE, "currency": current_app.config["CURRENCY"]}


def may_manage(key: ApiKey) -> bool:
    return can("admin") or (key.created_by_id is not None and key.created_by_id == current_user.id)


def creator_label(key: ApiKey) -> str | None:
    """Who created the key: "you", their email, or None (the CLI, or a user since deleted)."""
    if key.created_by_id is None:
        return None
    if key.created_by_id == current_user.id:
        return _("you")
    user = db.session.get(User, key.created_by_id)
    return user.email if user is not None else None


def default_rpm() -> int:
    workspace = g.get("workspace")
    return (workspace.default_rpm if workspace is not None else None) or current_app.config["DEFAULT_RPM"]


def _user() -> User:
    return current_user._get_current_object()


def _key_or_404(key_id: int) -> ApiKey:
    try:
        return get_key(key_id, workspace_id=g.workspace.id)
    except KeyNotFound:
        abort(404)


def _manageable(key_id: int) -> ApiKey:
    key = _key_or_404(key_id)
    if not may_manage(key):
        abort(403)
    return key


def _index_context(form: KeyForm | None = None, open_form: bool = False, **extra) -> dict:
    keys = list_keys(g.workspace.id)
    form = form or key_form()
    return {"keys": keys, "form": form, "open_form": open_form or not keys or bool(form.errors), **extra}


def _page_with_new_key(issued, status: int = 200, **extra):
    """The new key's widget: alone with the list swapped out-of-band for htmx, else the whole page."""
    context = _index_context(issued=issued, **extra)
    if htmx.target() != "key_create":
        response = render("keys/index.html", status=status, **context)
        if htmx.is_htmx():
            response.headers["HX-Push-Url"] = url_for("keys.index")  # a reload must land on the list
        return response
    body = (render_block("keys/index.html", "key_create", **context)
            + render_block("keys/index.html", "keylist", keylist_oob=True, **context) + oob_flash())
    return htmx.vary(make_response(body, status))


@bp.get("/")
@workspace_view()
def index():
    return render("keys/index.html", **_index_context(open_form=request.args.get("new") == "1"))


@bp.post("/")
@workspace_view()
def create():
    form = key_form(formdata=request.form)
    if form.validate_on_submit():
        try:
            issued = create_key(g.workspace.id, form.name.data, actor=_user(), rpm_limit=form.rpm_limit.data,
                                tpm_limit=form.tpm_limit.data, monthly_spend_cap_micro=form.cap_micro,
                                allowed_models=form.allowed_models.data or None, expires_at=form.expires_at)
        except KeyPolicyError as exc:
            form.form_errors.append(str(exc))
        else:
            return _page_with_new_key(issued, status=201)
    return render("keys/index.html", status=422, **_index_context(form=form))


@bp.get("/<int:key_id>")
@workspace_view()
def detail(key_id: int):
    key = _key_or_404(key_id)
    return _detail_page(key)


def _detail_page(key: ApiKey, status: int = 200, form: KeyForm | None = None, saved: bool = False):
    days = period(request.args.get("days", type=int))
    activity = key_activity(g.workspace.id, key.id, days)
    return render("keys/detail.html", status=status, key=key, activity=activity, periods=PERIODS,
                  form=form or key_form(key), saved=saved, month_spent_micro=activity.month_spent_micro)


@bp.post("/<int:key_id>/edit")
@workspace_view()
def update(key_id: int):
    key = _manageable(key_id)
    form = key_form(key, formdata=request.form)
    saved = False
    if form.validate_on_submit():
        try:
            key = update_key(key.id, workspace_id=g.workspace.id, actor=_user(), name=form.name.data,
                             rpm_limit=form.rpm_limit.data, tpm_limit=form.tpm_limit.data,
                             monthly_spend_cap_micro=form.cap_micro,
                             allowed_models=form.allowed_models.data or None,
                             expires_at=UNSET if form.expiry_unchanged() else form.expires_at)
        except KeyPolicyError as exc:
            form.form_errors.append(str(exc))
        else:
            saved = True
            form = key_form(key)
    status = 200 if saved else 422
    if htmx.target() == "key_limits":
        body = render_block("keys/detail.html", "key_limits", key=key, form=form, saved=saved)
        if saved:
            body += render_block("keys/detail.html", "key_summary", key=key, summary_oob=True)
            body += render_block("keys/detail.html", "key_month", key=key, month_oob=True,
                                 month_spent_micro=month_spend(g.workspace.id, key.id)[0])
        return htmx.vary(make_response(body + oob_flash(), status))
    if saved:
        flash(_("Key %(name)s saved.", name=key.name), "success")
        return htmx.redirect(url_for("keys.detail", key_id=key.id))
    return _detail_page(key, status=status, form=form)


@bp.post("/<int:key_id>/revoke")
@workspace_view()
def revoke(key_id: int):
    key = _manageable(key_id)
    key = revoke_key(key.id, actor=_user(), workspace_id=g.workspace.id)
    _warn_if_predecessor_still_works(key)
    if htmx.target() == f"key-{key.id}":
        return render_component("components/key_row.html", key=key)
    flash(_("Key %(name)s (%(prefix)s…) revoked. Requests with it now fail with 401.",
            name=key.name, prefix=key.prefix), "success")
    back = "keys.detail" if request.form.get("back") == "detail" else "keys.index"
    return htmx.redirect(url_for(back, key_id=key.id) if back == "keys.detail" else url_for(back))


def _warn_if_predecessor_still_works(key: ApiKey) -> None:
    """Revoking the new key of a rotation leaves the old one in its grace period: say so, and until when."""
    if key.rotated_from_id is None:
        return
    old = db.session.get(ApiKey, key.rotated_from_id)
    if old is None or old.workspace_id != key.workspace_id or old.status(utcnow()) != "rotating":
        return
    flash(_("The key %(name)s (%(prefix)s…) that this one replaced still works until %(when)s. "
            "Revoke it too if it should stop now.", name=old.name, prefix=old.prefix,
            when=when(old.revoked_at)), "warning")


@bp.post("/<int:key_id>/rotate")
@workspace_view()
def rotate(key_id: int):
    key = _manageable(key_id)
    grace = request.form.get("grace", DEFAULT_GRACE)
    if grace not in dict(GRACE_CHOICES):
        abort(400)
    try:
        issued = rotate_key(key.id, int(grace), actor=_user(), workspace_id=g.workspace.id)
    except KeyPolicyError as exc:
        flash(str(exc), "error")
        if htmx.target() == "key_create":
            return render("keys/index.html", status=422, **_index_context())
        return htmx.redirect(url_for("keys.detail", key_id=key.id))
    return _page_with_new_key(issued, rotated_from=_key_or_404(key.id))
