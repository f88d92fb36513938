"""Creating users and workspaces, and recording who did what."""
from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select

from ..database import unit_of_work
from ..extensions import db
from .models import ROLES, AuditEvent, Membership, User, Workspace

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8


class AccountError(ValueError):
    pass


def normalize_email(email: str) -> str:
    value = (email or "").strip().lower()
    if not EMAIL_RE.match(value) or len(value) > 254:
        raise AccountError(f"not a valid email address: {email!r}")
    return value


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(email: str, password: str, is_staff: bool = False) -> User:
    email = normalize_email(email)
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"password must be at least {MIN_PASSWORD} characters")
    if find_user(email) is not None:
        raise AccountError(f"a user with email {email} already exists")
    user = User(email=email, is_staff=is_staff)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return slug or "workspace"


def unique_slug(name: str) -> str:
    base = slugify(name)
    slug = base
    while db.session.scalar(select(func.count()).select_from(Workspace).where(Workspace.slug == slug)):
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def create_workspace(name: str, owner: User) -> Workspace:
    """The workspace and its owner's membership; the caller opens its credit account (billing.credit_accounts)."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise AccountError("workspace name must be 1 to 120 characters")
    workspace = Workspace(name=name, slug=unique_slug(name))
    db.session.add(workspace)
    db.session.flush()
    db.session.add(Membership(user_id=owner.id, workspace_id=workspace.id, role="owner"))
    db.session.flush()
    return workspace


def workspace_by_slug(slug: str) -> Workspace | None:
    return db.session.scalar(select(Workspace).where(Workspace.slug == slug))


def membership(user: User, workspace_id: int) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.workspace_id == workspace_id))


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    return role


@unit_of_work()
def set_locale(user: User, tag: str) -> None:
    """The language the account reads the console and its mail in."""
    user.locale = tag


def record_audit(action: str, *, actor: User | None = None, actor_label: str | None = None,
                 workspace_id: int | None = None, target: str | None = None, details: dict | None = None) -> None:
    """Adds an audit row to the current session; it commits with the change it describes."""
    label = actor_label or (actor.email if actor is not None else "system")
    db.session.add(AuditEvent(workspace_id=workspace_id, actor_user_id=actor.id if actor else None,
                              actor_label=label, action=action, target=target, details=details))
