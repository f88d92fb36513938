"""Choosing, creating and renaming workspaces."""
from __future__ import annotations

from flask import flash, g, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..accounts.services import membership, workspace_by_slug
from . import bp, htmx
from .access import LAST_WORKSPACE_KEY, workspace_view
from .forms import WorkspaceForm
from .rendering import render, render_component
from .services import MemberError, new_workspace, rename_workspace, workspaces_of


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
    return render("console/settings.html", form=WorkspaceForm(obj=g.workspace))


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
            render("console/settings.html", status=status, form=form)
    return render_component("components/workspace_name.html", status=status, form=form, renamed=status == 200)
