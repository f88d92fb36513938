"""Who may see which workspace page: `workspace_view` and the role ladder.

Every console page under `/console/w/<slug>/...` is wrapped in `workspace_view`::

    bp = Blueprint("keys", __name__, url_prefix="/console/w/<slug>/keys")

    @bp.get("/")
    @workspace_view()                      # any member
    def index():
        keys = list_keys(g.workspace.id)
        ...

    @bp.post("/<int:key_id>/revoke")
    @workspace_view(min_role="admin")      # owners and admins
    def revoke(key_id):
        key = get_key(key_id, workspace_id=g.workspace.id)   # IDs are always looked up *within* g.workspace
        ...

The decorator signs the user in if needed (anonymous -> login page), loads the workspace by slug and
the user's membership, answers 404 when either is missing (a non-member cannot tell a private
workspace from a missing one), 403 when the role is below `min_role`, and leaves `g.workspace` and
`g.membership` for the view. It consumes `slug`: the view gets only its other URL values, and
`url_for` fills `slug` in from `g.workspace` (see `inject_workspace_slug`).
"""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g, session
from flask_login import current_user, login_required

from ...accounts.models import ROLES, Workspace
from ...accounts.services import membership, workspace_by_slug
from .rendering import render

RANK = {"member": 1, "admin": 2, "owner": 3}
LAST_WORKSPACE_KEY = "workspace"


def role_at_least(role: str, minimum: str) -> bool:
    return RANK.get(role, 0) >= RANK[minimum]


def workspace_view(min_role: str = "member"):
    """Decorator for workspace pages; see the module docstring."""
    if min_role not in ROLES:
        raise ValueError(f"min_role must be one of {ROLES}")

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, slug: str, **kwargs):
            workspace = workspace_by_slug(slug)
            member = membership(current_user, workspace.id) if workspace is not None else None
            if member is None:
                abort(404)
            g.workspace, g.membership = workspace, member
            session[LAST_WORKSPACE_KEY] = workspace.slug
            if not role_at_least(member.role, min_role):
                abort(403)
            if workspace.require_two_factor and not current_user.two_factor_enabled:
                return two_factor_required(workspace)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def two_factor_required(workspace: Workspace):
    """What a member without two-factor sees on a workspace whose owner requires it."""
    g.workspace = None
    return render("account/two_factor_required.html", status=403, workspace=workspace)


def can(min_role: str) -> bool:
    """In a workspace page or its template: does the current member hold at least `min_role`?"""
    member = g.get("membership")
    return member is not None and role_at_least(member.role, min_role)


def inject_workspace_slug(endpoint: str, values: dict) -> None:
    """url_defaults hook: inside a workspace page, url_for("console.members") needs no slug."""
    workspace = g.get("workspace")
    if workspace is None or "slug" in values:
        return
    if current_app.url_map.is_endpoint_expecting(endpoint, "slug"):
        values["slug"] = workspace.slug
