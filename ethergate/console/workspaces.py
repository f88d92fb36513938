"""Choosing, creating and renaming workspaces."""
from __future__ import annotations

from flask import current_app, flash, g, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.services import membership, workspace_by_slug
from ..billing.models import DEFAULT_LOW_BALANCE_MICRO
from ..money import format_plain
from .alerts import webhook_context
from .blueprint import bp
from .forms import WorkspaceForm, WorkspaceLimitsForm
from .services import MemberError, new_workspace, rename_workspace, set_workspace_limits, workspaces_of
from .shell import htmx
from .shell.access import LAST_WORKSPACE_KEY, workspace_view
from .shell.rendering import render, render_component


@bp.get("/")
@login_required
def index():
    """The last workspace used in this session, else the first by name, else the create page."""
    last = workspace_by_slug(session.get(LAST_WORKSPACE_KEY) or "")
    if last is not None and membership(current_user, last.id) is not None:
        return htmx.redirect(url_for("console.dashboard", slug=last.slug))
    mine = workspaces_of(current_user)
    if mine:
        return htmx.redirect(url_for("console.dashboard", slug=mine[0][0].slug))
    if current_user.is_staff and "support.index" in current_app.view_functions:
        return htmx.redirect(url_for("support.index"))  # staff work from the support console
    return htmx.redirect(url_for("console.new_workspace"))


@bp.route("/workspaces/new", methods=["GET", "POST"], endpoint="new_workspace")
@login_required
def new_workspace_page():
    form = WorkspaceForm()
    first = not workspaces_of(current_user)
    if form.validate_on_submit():
        try:
            workspace = new_workspace(current_user, form.name.data)
        except MemberError as exc:
            form.name.errors.append(str(exc))
        else:
            flash(_("Workspace %(name)s created.", name=workspace.name), "success")
            return htmx.redirect(url_for("console.dashboard", slug=workspace.slug))
    if first and not form.is_submitted():
        form.name.data = _("My project")
    return render("console/new_workspace.html", status=422 if form.errors else 200, form=form, first=first)


@bp.get("/w/<slug>/settings")
@workspace_view()
def settings():
    return render("console/settings.html", form=WorkspaceForm(obj=g.workspace), limits_form=limits_form(),
                  **_settings_context())


def limits_form(formdata=None) -> WorkspaceLimitsForm:
    workspace = g.workspace
    form = WorkspaceLimitsForm(formdata=formdata)
    if formdata is None:
        form.low_balance.data = format_plain(workspace.low_balance_micro) if workspace.low_balance_micro is not None \
            else ""
        form.default_rpm.data = workspace.default_rpm
    return form


def _limits_context() -> dict:
    return {"default_low_balance_micro": DEFAULT_LOW_BALANCE_MICRO, "instance_rpm": current_app.config["DEFAULT_RPM"]}


def _settings_context() -> dict:
    return {**_limits_context(), **(webhook_context() if g.membership.can_manage else {})}


@bp.post("/w/<slug>/settings/limits")
@workspace_view(min_role="admin")
def limits():
    """Self-targeting component: the limits form again, saved or with its errors."""
    form = limits_form(request.form)
    saved = False
    if form.validate_on_submit():
        try:
            set_workspace_limits(g.workspace, form.low_balance_micro, form.default_rpm.data, g.membership)
        except MemberError as exc:
            form.form_errors.append(str(exc))
        else:
            saved = True
    status = 200 if saved else 422
    if not htmx.is_fragment_request():
        if saved:
            flash(_("Limits saved."), "success")
            return htmx.redirect(url_for("console.settings"))
        return render("console/settings.html", status=status, form=WorkspaceForm(obj=g.workspace), limits_form=form,
                      **_settings_context())
    return render_component("components/workspace_limits.html", status=status, limits_form=form, saved=saved,
                            **_limits_context())


@bp.post("/w/<slug>/settings/name")
@workspace_view(min_role="admin")
def rename():
    """Self-targeting component: answers with the form again (and the new name out-of-band)."""
    form = WorkspaceForm()
    status = 200
    if form.validate_on_submit():
        try:
            rename_workspace(g.workspace, form.name.data, g.membership)
        except MemberError as exc:
            form.name.errors.append(str(exc))
        else:
            flash(_("Workspace renamed."), "success")
    if form.errors:
        status = 422
    if not htmx.is_fragment_request():
        return htmx.redirect(url_for("console.settings")) if status == 200 else \
            render("console/settings.html", status=status, form=form, limits_form=limits_form(), **_settings_context())
    return render_component("components/workspace_name.html", status=status, form=form, renamed=status == 200)
