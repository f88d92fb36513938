"""The members page: who is in the workspace, pending invitations, inviting, roles, removal.

Any member sees the page; changes need an owner or admin (`workspace_view(min_role="admin")`), and
the services enforce the finer rules (only owners touch the owner role, never lose the last owner).
Each member row and invitation row is a self-targeting component; the invite form refreshes the
whole `members` block.
"""
from __future__ import annotations

from flask import abort, flash, g, url_for
from flask_babel import gettext as _

from . import bp, htmx
from .access import workspace_view
from .forms import InviteForm, RoleForm
from .rendering import render, render_component
from .services import (MemberError, change_role, invite, member_in, members_of, pending_invitations,
                       remove_member, revoke_invitation)


def members_page(status: int = 200, invite_form: InviteForm | None = None):
    return render("console/members.html", status=status, members=members_of(g.workspace),
                  invitations=pending_invitations(g.workspace), invite_form=invite_form or InviteForm(formdata=None))


@bp.get("/w/<slug>/members")
@workspace_view()
def members():
    return members_page()


@bp.post("/w/<slug>/members/invite")
@workspace_view(min_role="admin")
def invite_member():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation = invite(g.workspace, form.email.data, form.role.data, g.membership)
        except MemberError as exc:
            form.email.errors.append(str(exc))
        else:
            flash(_("Invitation sent to %(email)s. They join when they sign up or next sign in.",
                    email=invitation.email), "success")
            if not htmx.is_fragment_request():
                return htmx.redirect(url_for("console.members"))
            return members_page()
    return members_page(status=422, invite_form=form)


@bp.post("/w/<slug>/members/<int:membership_id>/role")
@workspace_view(min_role="admin")
def set_role(membership_id: int):
    member = _member_or_404(membership_id)
    form = RoleForm()
    error = None
    if form.validate_on_submit():
        try:
            member = change_role(g.workspace, membership_id, form.role.data, g.membership)
        except MemberError as exc:
            error = str(exc)
            member = _member_or_404(membership_id)
        else:
            flash(_("%(email)s is now %(role)s.", email=member.user.email, role=_role_name(member.role)), "success")
    else:
        error = _("Choose a role.")
    return _after_row_change(member, error)


@bp.post("/w/<slug>/members/<int:membership_id>/remove")
@workspace_view()
def remove(membership_id: int):
    """Owners and admins remove anyone they may manage; every member may remove themself (leave)."""
    member = _member_or_404(membership_id)
    leaving = member.id == g.membership.id
    try:
        remove_member(g.workspace, membership_id, g.membership)
    except MemberError as exc:
        if not leaving and g.membership.role == "member":
            abort(403)
        return _after_row_change(_member_or_404(membership_id), str(exc))
    if leaving:
        flash(_("You left %(name)s.", name=g.workspace.name), "info")
        return htmx.redirect(url_for("console.index"))
    flash(_("Member removed."), "success")
    if not htmx.is_fragment_request():
        return htmx.redirect(url_for("console.members"))
    return render_component("components/empty.html")


@bp.post("/w/<slug>/invitations/<int:invitation_id>/revoke")
@workspace_view(min_role="admin")
def revoke(invitation_id: int):
    try:
        revoke_invitation(g.workspace, invitation_id, g.membership)
    except LookupError:
        abort(404)
    except MemberError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Invitation revoked."), "success")
    if not htmx.is_fragment_request():
        return htmx.redirect(url_for("console.members"))
    return members_page()


def _member_or_404(membership_id: int):
    try:
        return member_in(g.workspace, membership_id)
    except LookupError:
        abort(404)


def _after_row_change(member, error: str | None):
    if not htmx.is_fragment_request():
        if error:
            flash(error, "error")
        return htmx.redirect(url_for("console.members"))
    return render_component("components/member_row.html", status=422 if error else 200,
                            member=member, error=error, role_form=RoleForm(formdata=None, role=member.role))


def _role_name(role: str) -> str:
    from .forms import role_label
    return str(role_label(role))
