"""Support console pages. Staff only: the package's before-request hook has already checked."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..billing import ledger, topups
from ..console.audit import EVERY_WORKSPACE, action_label, audit_page, page_links, page_number, summary
from ..console.shell import htmx
from ..console.shell.rendering import render, render_component
from ..i18n import format_money
from ..timeutil import utcnow
from .blueprint import bp
from .forms import AdjustmentForm, CodeForm
from .queries import request_trace, search, workspace_by_slug, workspace_overview

KEY_STATUS = {"active": _l("active"), "rotating": _l("rotating"), "expired": _l("expired"), "revoked": _l("revoked")}
HOLD_STATUS = {"pending": _l("pending"), "captured": _l("captured"), "voided": _l("voided"),
               "expired": _l("expired")}
ENTRY_KINDS = {"topup": _l("top-up"), "grant": _l("grant"), "redemption": _l("redemption"), "usage": _l("usage"),
               "refund": _l("refund"), "adjustment": _l("adjustment")}


@bp.context_processor
def labels() -> dict:
    return {"key_status_label": lambda status: KEY_STATUS.get(status, status),
            "hold_status_label": lambda status: HOLD_STATUS.get(status, status),
            "entry_kind_label": lambda kind: ENTRY_KINDS.get(kind, kind)}


def staff_user():
    return current_user._get_current_object()


@bp.get("/")
def index():
    query = request.args.get("q", "")
    results = search(query)
    if results.only_requests:
        return htmx.redirect(url_for("support.trace", request_id=results.query))
    return render("support/index.html", results=results, search_query=results.query)


@bp.get("/requests/<request_id>")
def trace(request_id: str):
    return render("support/trace.html", trace=request_trace(request_id), search_query=request_id)


def _workspace_or_404(workspace_slug: str):
    workspace = workspace_by_slug(workspace_slug)
    if workspace is None:
        abort(404)
    return workspace


def workspace_page(workspace, status: int = 200, adjustment: AdjustmentForm | None = None,
                   code_form: CodeForm | None = None):
    return render("support/workspace.html", status=status, overview=workspace_overview(workspace),
                  adjustment=adjustment or AdjustmentForm(formdata=None),
                  code_form=code_form or CodeForm(formdata=None))


@bp.get("/workspaces/<workspace_slug>")
def workspace(workspace_slug: str):
    return workspace_page(_workspace_or_404(workspace_slug))


@bp.post("/workspaces/<workspace_slug>/adjust")
def adjust(workspace_slug: str):
    """A signed correction of the balance; `topups.adjust` writes the entry and its audit row together."""
    workspace = _workspace_or_404(workspace_slug)
    form = AdjustmentForm()
    status = 422
    if form.validate_on_submit():
        try:
            entry = topups.adjust(workspace.id, form.amount_micro, staff_user(), form.note.data,
                                  idempotency_key=form.submission.data or None)
        except ledger.InsufficientCredits as short:
            form.amount.errors.append(_(
                "A debit of %(needed)s would take the available balance below zero: %(available)s is "
                "available (balance %(balance)s, %(held)s held by requests in flight).",
                needed=format_money(short.needed), available=format_money(short.available),
                balance=format_money(short.balance), held=format_money(short.balance - short.available)))
        except ledger.IdempotencyConflict:
            status = 409
            form.form_errors.append(_("This form was already used for another adjustment. Reload the page."))
        except topups.TopupError as exc:
            form.form_errors.append(str(exc))
        else:
            if entry.replayed:
                flash(_("That adjustment was already made; it was not applied twice."), "info")
            else:
                flash(_("Balance adjusted by %(amount)s. New balance: %(balance)s.",
                        amount=format_money(entry.amount), balance=format_money(entry.balance_after)), "success")
            if not htmx.is_fragment_request():
                return htmx.redirect(url_for("support.workspace", workspace_slug=workspace.slug))
            return workspace_page(workspace)
    return workspace_page(workspace, status=status, adjustment=form)


def code_widget(status: int = 200, form: CodeForm | None = None, created=None, plaintext: str | None = None):
    """The self-targeting code widget, or for a plain browser form post a page holding it."""
    context = dict(form=form or CodeForm(formdata=None), code=created, plaintext=plaintext)
    if htmx.is_fragment_request():
        return render_component("support/_code_widget.html", status=status, **context)
    return render("support/code.html", status=status, **context)


@bp.get("/codes/new")
def new_code():
    return code_widget()


@bp.post("/codes")
def create_code():
    """Shows the code once; only its digest is stored. `topups.create_code` audits `code.created`."""
    form = CodeForm()
    if form.validate_on_submit():
        days = form.expires_in_days.data
        expires_at = utcnow() + timedelta(days=days) if days else None
        try:
            code, plaintext = topups.create_code(form.amount_micro, note=form.note.data, created_by=staff_user(),
                                                 expires_at=expires_at, description=form.description.data)
        except topups.TopupError as exc:
            form.form_errors.append(str(exc))
        else:
            return code_widget(created=code, plaintext=plaintext)
    return code_widget(status=422, form=form)


@bp.get("/audit")
def audit():
    """Every workspace's log, or one workspace's (`?workspace=slug`), or the rows that belong to none (`-`)."""
    chosen = request.args.get("workspace", "").strip()
    workspace, scope = None, EVERY_WORKSPACE
    if chosen == "-":
        scope = None
    elif chosen:
        workspace = _workspace_or_404(chosen)
        scope = workspace.id
    action = request.args.get("action", "").strip()[:64] or None
    audit = audit_page(scope, action=action, page=page_number())
    return render("support/audit.html", audit=audit, workspace=workspace, scope=chosen, summary=summary,
                  action_label=action_label, show_workspace=workspace is None,
                  **page_links("support.audit", audit, workspace=chosen))
