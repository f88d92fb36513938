"""Sign-up, sign-in, workspaces, members and invitations, as the console uses them.

Each function that changes something is one unit of work (database.unit_of_work), with its audit row.
Member changes lock the workspace row first (SELECT ... FOR UPDATE on PostgreSQL; a SQLite unit of work
holds the write lock from its start), so two owners demoting each other at once cannot leave a workspace
with no owner.
Errors are MemberError with a message fit to show the user.
"""
from __future__ import annotations

from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..accounts import tokens
from ..accounts.credentials import mark_verified
from ..accounts.models import Invitation, Membership, User, Workspace
from ..accounts.passwords import hash_method
from ..accounts.services import (AccountError, check_role, create_user, create_workspace, find_user,
                                 normalize_email, record_audit)
from ..billing.credit_accounts import open_account
from ..database import unit_of_work
from ..extensions import db
from ..timeutil import utcnow
from .shell.access import role_at_least


class MemberError(AccountError):
    pass


@lru_cache(maxsize=2)
def _decoy_hash(method: str) -> str:
    return generate_password_hash("not-a-password", method=method)


def authenticate(email: str, password: str) -> User | None:
    """The user with this email and password, or None. Unknown emails cost as much time as known ones."""
    user = find_user(email or "")
    if user is None:
        check_password_hash(_decoy_hash(hash_method()), password or "")
        return None
    return user if user.check_password(password or "") else None


@unit_of_work()
def sign_up(email: str, password: str, locale: str | None = None,
            invitation_token: str | None = None) -> tuple[User, list[Workspace]]:
    """Create the user; returns it and the workspaces joined.

    Signing up from an invite link for the same address proves the address: it counts as verified and
    every invitation for it is accepted. Otherwise invitations wait until the address is verified.
    """
    user = create_user(email, password)
    user.locale = locale
    user.last_login_at = utcnow()  # signing up signs in: support must not read "never signed in"
    record_audit("user.created", actor=user, target=user.email, details={"staff": False, "via": "signup"})
    if invitation_token:
        invitation = _live_invitation(invitation_token)
        if invitation is not None and invitation.email == user.email:
            mark_verified(user)
    joined = accept_invitations(user)
    return user, joined


@unit_of_work()
def record_sign_in(user: User) -> list[Workspace]:
    """Stamp the sign-in and accept invitations that arrived since; returns the workspaces joined."""
    user.last_login_at = utcnow()
    joined = accept_invitations(user)
    return joined


@unit_of_work()
def join_invited(user: User) -> list[Workspace]:
    joined = accept_invitations(user)
    return joined


def accept_invitations(user: User) -> list[Workspace]:
    """Turn pending invitations for the user's verified email into memberships (in the caller's transaction)."""
    joined = []
    if not user.email_verified:
        return joined
    pending = db.session.scalars(select(Invitation).where(
        Invitation.email == user.email, Invitation.accepted_at.is_(None)).order_by(Invitation.id)).all()
    for invitation in pending:
        if invitation.expires_at is not None and invitation.expires_at <= utcnow():
            continue
        invitation.accepted_at = utcnow()
        existing = db.session.scalar(select(Membership).where(
            Membership.user_id == user.id, Membership.workspace_id == invitation.workspace_id))
        if existing is not None:
            continue
        db.session.add(Membership(user_id=user.id, workspace_id=invitation.workspace_id, role=invitation.role))
        record_audit("member.joined", actor=user, workspace_id=invitation.workspace_id, target=user.email,
                     details={"role": invitation.role, "invitation_id": invitation.id})
        joined.append(db.session.get(Workspace, invitation.workspace_id))
    db.session.flush()
    return joined


def workspaces_of(user: User) -> list[tuple[Workspace, str]]:
    """(workspace, role) for every workspace the user belongs to, by name."""
    rows = db.session.execute(
        select(Workspace, Membership.role).join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user.id).order_by(func.lower(Workspace.name), Workspace.id)).all()
    return [(workspace, role) for workspace, role in rows]


@unit_of_work()
def new_workspace(user: User, name: str) -> Workspace:
    try:
        workspace = create_workspace(name, user)
    except AccountError:
        raise MemberError(_l("A workspace name is 1 to 120 characters.")) from None
    open_account(workspace.id)
    record_audit("workspace.created", actor=user, workspace_id=workspace.id, target=workspace.slug,
                 details={"name": workspace.name})
    return workspace


@unit_of_work()
def rename_workspace(workspace: Workspace, name: str, actor: Membership) -> None:
    """Owners and admins rename; the slug (and so every URL) stays the same."""
    _require_manager(actor)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise MemberError(_l("A workspace name is 1 to 120 characters."))
    if name == workspace.name:
        return
    old = workspace.name
    workspace.name = name
    record_audit("workspace.renamed", actor=actor.user, workspace_id=workspace.id, target=workspace.slug,
                 details={"from": old, "to": name})


@unit_of_work()
def set_workspace_limits(workspace: Workspace, low_balance_micro: int | None, default_rpm: int | None,
                         actor: Membership) -> bool:
    """Owners and admins set the low-balance threshold and the keys' default rate; None means the default."""
    _require_manager(actor)
    changes = {}
    for field, value in (("low_balance_micro", low_balance_micro), ("default_rpm", default_rpm)):
        if getattr(workspace, field) != value:
            changes[field] = [getattr(workspace, field), value]
            setattr(workspace, field, value)
    if not changes:
        return False
    record_audit("workspace.limits_changed", actor=actor.user, workspace_id=workspace.id, target=workspace.slug,
                 details={"changes": changes})
    return True


def members_of(workspace: Workspace) -> list[Membership]:
    return db.session.scalars(
        select(Membership).join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == workspace.id).order_by(Membership.created_at, Membership.id)).all()


def pending_invitations(workspace: Workspace) -> list[Invitation]:
    return db.session.scalars(select(Invitation).where(
        Invitation.workspace_id == workspace.id, Invitation.accepted_at.is_(None))
        .order_by(Invitation.created_at, Invitation.id)).all()


class AlreadyInvited(MemberError):
    pass


@unit_of_work()
def invite(workspace: Workspace, email: str, role: str, actor: Membership) -> tuple[Invitation, str]:
    """Invite an email with a role; returns the invitation and the token of its link (valid 7 days).

    The invitee joins by the link, or at sign-in once their address is verified. Inviting an address
    with a pending invitation is refused (AlreadyInvited): `resend_invitation` makes a new link on purpose.
    """
    _lock(workspace)
    _require_manager(actor, new_role=check_role(role))
    email = normalize_email(email)
    user = find_user(email)
    if user is not None and _membership_of_user(workspace, user) is not None:
        raise MemberError(_l("%(email)s is already a member of this workspace.", email=email))
    invitation = db.session.scalar(select(Invitation).where(
        Invitation.workspace_id == workspace.id, Invitation.email == email))
    if invitation is not None and invitation.accepted_at is None and not _expired(invitation):
        raise AlreadyInvited(_l("%(email)s already has a pending invitation. Use Resend on it to send a new link, "
                                "or Revoke it to invite with another role.", email=email))
    if invitation is None:
        invitation = Invitation(workspace_id=workspace.id, email=email, role=role)
        db.session.add(invitation)
    invitation.role, invitation.accepted_at = role, None
    invitation.invited_by_id, invitation.created_at = actor.user_id, utcnow()
    token = _new_link(invitation)
    db.session.flush()
    record_audit("member.invited", actor=actor.user, workspace_id=workspace.id, target=email,
                 details={"role": role, "invitation_id": invitation.id})
    return invitation, token


@unit_of_work()
def resend_invitation(workspace: Workspace, invitation_id: int, actor: Membership) -> tuple[Invitation, str]:
    """A new link for a pending invitation (the old link stops working), valid 7 days from now."""
    _lock(workspace)
    invitation = _pending(workspace, invitation_id)
    _require_manager(actor, target_role=invitation.role)
    token = _new_link(invitation)
    record_audit("invitation.resent", actor=actor.user, workspace_id=workspace.id, target=invitation.email,
                 details={"role": invitation.role, "invitation_id": invitation.id})
    return invitation, token


def _new_link(invitation: Invitation) -> str:
    token, hashed = tokens.new_token()
    invitation.token_digest, invitation.expires_at = hashed, utcnow() + tokens.INVITATION_LIFETIME
    return token


def _expired(invitation: Invitation) -> bool:
    return invitation.expires_at is not None and invitation.expires_at <= utcnow()


def _pending(workspace: Workspace, invitation_id: int) -> Invitation:
    invitation = db.session.scalar(select(Invitation).where(
        Invitation.id == invitation_id, Invitation.workspace_id == workspace.id, Invitation.accepted_at.is_(None)))
    if invitation is None:
        raise LookupError(invitation_id)
    return invitation


def _live_invitation(token: str) -> Invitation | None:
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_digest == tokens.digest(token or "")))
    if invitation is None or invitation.accepted_at is not None or _expired(invitation):
        return None
    return invitation


def invitation_for_link(token: str) -> Invitation:
    """The pending invitation an invite link names; TokenError("unknown" / "used" / "expired") otherwise."""
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_digest == tokens.digest(token or "")))
    if invitation is None:
        raise tokens.TokenError("unknown")
    if invitation.accepted_at is not None:
        raise tokens.TokenError("used")
    if _expired(invitation):
        raise tokens.TokenError("expired")
    return invitation


@unit_of_work()
def accept_invitation_link(token: str, user: User) -> Workspace:
    """The signed-in invitee follows their link: the address counts as verified and they join."""
    invitation = invitation_for_link(token)
    if invitation.email != user.email:
        raise MemberError(_l("This invitation is for %(email)s. Sign in with that address to accept it.",
                             email=invitation.email))
    mark_verified(user)
    accept_invitations(user)
    return db.session.get(Workspace, invitation.workspace_id)


@unit_of_work()
def require_two_factor(workspace: Workspace, required: bool, actor: Membership) -> None:
    """Owners only; an owner turning it on must use two-factor themself, or they would be locked out."""
    if actor.role != "owner":
        raise MemberError(_l("Only an owner can change the two-factor requirement."))
    if required and not actor.user.two_factor_enabled:
        raise MemberError(_l("Turn on two-factor authentication for your own account first."))
    if workspace.require_two_factor == required:
        return
    workspace.require_two_factor = required
    record_audit("workspace.two_factor_required" if required else "workspace.two_factor_optional",
                 actor=actor.user, workspace_id=workspace.id, target=workspace.slug)


@unit_of_work()
def revoke_invitation(workspace: Workspace, invitation_id: int, actor: Membership) -> Invitation:
    _lock(workspace)
    invitation = _pending(workspace, invitation_id)
    _require_manager(actor, target_role=invitation.role)
    db.session.delete(invitation)
    record_audit("invitation.revoked", actor=actor.user, workspace_id=workspace.id, target=invitation.email,
                 details={"role": invitation.role, "invitation_id": invitation.id})
    return invitation


def member_in(workspace: Workspace, membership_id: int) -> Membership:
    """A membership of this workspace by id; LookupError (-> 404) for any other id."""
    member = db.session.scalar(select(Membership).where(
        Membership.id == membership_id, Membership.workspace_id == workspace.id))
    if member is None:
        raise LookupError(membership_id)
    return member


@unit_of_work()
def change_role(workspace: Workspace, membership_id: int, role: str, actor: Membership) -> Membership:
    _lock(workspace)
    target = member_in(workspace, membership_id)
    _require_manager(actor, target_role=target.role, new_role=check_role(role))
    if target.role == role:
        return target
    if target.role == "owner":
        _keep_an_owner(workspace)
    old = target.role
    target.role = role
    record_audit("member.role_changed", actor=actor.user, workspace_id=workspace.id, target=target.user.email,
                 details={"from": old, "to": role})
    return target


@unit_of_work()
def remove_member(workspace: Workspace, membership_id: int, actor: Membership) -> Membership:
    """Owners and admins remove members; anyone may leave. The last owner can do neither."""
    _lock(workspace)
    target = member_in(workspace, membership_id)
    if target.id != actor.id:
        _require_manager(actor, target_role=target.role)
    if target.role == "owner":
        _keep_an_owner(workspace)
    email = target.user.email
    db.session.delete(target)
    record_audit("member.removed", actor=actor.user, workspace_id=workspace.id, target=email,
                 details={"role": target.role, "left": target.id == actor.id})
    return target


def _lock(workspace: Workspace) -> None:
    db.session.execute(select(Workspace.id).where(Workspace.id == workspace.id).with_for_update())


def _membership_of_user(workspace: Workspace, user: User) -> Membership | None:
    return db.session.scalar(select(Membership).where(
        Membership.workspace_id == workspace.id, Membership.user_id == user.id))


def _require_manager(actor: Membership, target_role: str | None = None, new_role: str | None = None) -> None:
    if not role_at_least(actor.role, "admin"):
        raise MemberError(_l("Only owners and admins can manage members."))
    if "owner" in (target_role, new_role) and actor.role != "owner":
        raise MemberError(_l("Only an owner can give, change or remove the owner role."))


def _keep_an_owner(workspace: Workspace) -> None:
    owners = db.session.scalar(select(func.count()).select_from(Membership).where(
        Membership.workspace_id == workspace.id, Membership.role == "owner"))
    if owners <= 1:
        raise MemberError(_l("A workspace needs at least one owner. Make someone else an owner first."))
