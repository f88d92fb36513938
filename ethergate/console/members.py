"""The members page: who is in the workspace, pending invitations, inviting, roles, removal.

Any member sees the page; changes need an owner or admin (`workspace_view(min_role="admin")`), and
the services enforce the finer rules (only owners touch the owner role, never lose the last owner).
Each member row and invitation row is a self-targeting component; the invite form refreshes the
whole `members` block.
"""
from __future__ import annotations

from flask import abort, flash, g, request, url_for
from flask_babel import gettext as _

from .. import mail
from ..accounts.services import find_user
from ..i18n import current_language
from ..timeutil import utcnow
from .blueprint import bp
from .forms import InviteForm, RoleForm
from .services import (MemberError, change_role, invite, member_in, members_of, pending_invitations,
                       remove_member, require_two_factor, resend_invitation, revoke_invitation)
from .shell import htmx
from .shell.access import workspace_view
from .shell.links import public_url
from .shell.rendering import render, render_component


def members_page(status: int = 200, invite_form: InviteForm | None = None, invite_link: dict | None = None):
    return render("console/members.html", status=status, members=members_of(g.workspace),
                  invitations=pending_invitations(g.workspace), invite_form=invite_form or InviteForm(formdata=None),
                  invite_link=invite_link, now=utcnow())


def deliver_invitation(invitation, token: str) -> dict | None:
    """Email the invite link when SMTP works; either way the page says what happened and, unless the
    email went out, shows the link to copy (it is stored only as a digest, so this is its one showing)."""
    link = public_url("auth.invitation", token=token)
    invitee = find_user(invitation.email)
    locale = (invitee.locale if invitee is not None and invitee.locale else None) or current_language().tag
    message = mail.send(invitation.email, "invitation", locale, link=link, workspace=g.workspace.name,
                        inviter=g.membership.user.email, role=invitation.role, expires_at=invitation.expires_at)
    if message.status == mail.SENT:
        flash(_("Invitation emailed to %(email)s. The link in it works for 7 days.", email=invitation.email),
              "success")
        return None
    if message.status == mail.FAILED:
        flash(_("The invitation for %(email)s is ready, but the email could not be sent. Copy the link below "
                "and send it to them.", email=invitation.email), "warning")
    else:
        flash(_("The invitation for %(email)s is ready. This instance does not send email: copy the link below "
                "and send it to them.", email=invitation.email), "info")
    return {"email": invitation.email, "url": link}


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
            invitation, token = invite(g.workspace, form.email.data, form.role.data, g.membership)
        except MemberError as exc:
            form.email.errors.append(str(exc))
        else:
            return after_invitation(invitation, token)
    return members_page(status=422, invite_form=form)


def after_invitation(invitation, token: str):
    link = deliver_invitation(invitation, token)
    if link is None and not htmx.is_fragment_request():
        return htmx.redirect(url_for("console.members"))
    return members_page(invite_link=link)


@bp.post("/w/<slug>/invitations/<int:invitation_id>/resend")
@workspace_view(min_role="admin")
def resend(invitation_id: int):
    """A deliberate re-send: a new link (the old one stops working), valid 7 days from now."""
    try:
        invitation, token = resend_invitation(g.workspace, invitation_id, g.membership)
    except LookupError:
        abort(404)
    except MemberError as exc:
        flash(str(exc), "error")
        return members_page(status=422)
    return after_invitation(invitation, token)


@bp.post("/w/<slug>/members/two-factor")
@workspace_view(min_role="owner")
def two_factor_policy():
    required = request.form.get("required") == "1"
    try:
        require_two_factor(g.workspace, required, g.membership)
    except MemberError as exc:
        flash(str(exc), "error")
        return members_page(status=422)
    if required:
        flash(_("Members of %(name)s now need two-factor authentication to open it.", name=g.workspace.name),
              "success")
    else:
        flash(_("Two-factor authentication is optional in %(name)s.", name=g.workspace.name), "info")
    if not htmx.is_fragment_request():
        return htmx.redirect(url_for("console.members"))
    return members_page()


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
