"""The audit log: who changed what, and when, in the console or from the CLI.

Services write the rows (`accounts.services.record_audit`, in the same commit as the change). This
module reads them: `audit_page()` for one workspace or for all, newest first, optionally one action,
and the owners' page at /console/w/<slug>/audit. Staff read every workspace's log, and the rows that
belong to none (users, redemption codes), in the support console.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.models import AuditEvent, Membership, User, Workspace
from ..extensions import db
from ..i18n import format_money
from .forms import role_label
from .shell.access import workspace_view
from .shell.htmx import private_page
from .shell.nav import NavItem, add_console_item
from .shell.rendering import render

PER_PAGE = 50
EVERY_WORKSPACE = object()

ACTIONS = {
    "workspace.created": _l("Workspace created"),
    "workspace.renamed": _l("Workspace renamed"),
    "workspace.limits_changed": _l("Workspace limits changed"),
    "alerts.webhook_set": _l("Alert webhook set"),
    "alerts.webhook_secret_rotated": _l("Alert webhook secret replaced"),
    "alerts.webhook_removed": _l("Alert webhook removed"),
    "member.invited": _l("Member invited"),
    "invitation.revoked": _l("Invitation revoked"),
    "member.joined": _l("Member joined"),
    "member.role_changed": _l("Role changed"),
    "member.removed": _l("Member removed"),
    "key.created": _l("API key created"),
    "key.updated": _l("API key changed"),
    "key.rotated": _l("API key rotated"),
    "key.revoked": _l("API key revoked"),
    "credits.topup": _l("Credits bought"),
    "credits.grant": _l("Credits granted by staff"),
    "credits.adjustment": _l("Balance adjusted by staff"),
    "code.created": _l("Redemption code created"),
    "code.redeemed": _l("Redemption code redeemed"),
    "user.created": _l("User created"),
    "catalog.synced": _l("Model catalog synced"),
}

bp = Blueprint("audit", __name__, url_prefix="/console/w/<slug>")
add_console_item(NavItem("audit.index", _l("Audit log"), order=65, min_role="owner", section="audit."))


bp.after_request(private_page)


@dataclass
class AuditPage:
    events: list[tuple[AuditEvent, Workspace | None]]
    page: int
    has_next: bool
    action: str | None
    actions: list[tuple[str, str]]

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def audit_page(workspace_id=EVERY_WORKSPACE, action: str | None = None, page: int = 1,
               per_page: int = PER_PAGE) -> AuditPage:
    """A page of events, newest first; `workspace_id=None` means the events that belong to no workspace."""
    page = max(page, 1)
    query = select(AuditEvent, Workspace).outerjoin(Workspace, Workspace.id == AuditEvent.workspace_id)
    scope = select(AuditEvent.action).distinct()
    if workspace_id is not EVERY_WORKSPACE:
        condition = AuditEvent.workspace_id.is_(None) if workspace_id is None \
            else AuditEvent.workspace_id == workspace_id
        query, scope = query.where(condition), scope.where(condition)
    if action:
        query = query.where(AuditEvent.action == action)
    rows = db.session.execute(query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
                              .offset((page - 1) * per_page).limit(per_page + 1)).all()
    present = set(db.session.scalars(scope))
    names = [name for name in ACTIONS if name in present] + sorted(present - set(ACTIONS))
    if action and action not in names:
        names.append(action)
    return AuditPage(events=[(event, workspace) for event, workspace in rows[:per_page]], page=page,
                     has_next=len(rows) > per_page, action=action or None,
                     actions=[(name, str(action_label(name))) for name in names])


def action_label(action: str):
    return ACTIONS.get(action, action)


def summary(event: AuditEvent) -> str:
    """A short line about what changed, from the event's details."""
    details = event.details if isinstance(event.details, dict) else {}
    action = event.action
    if action.startswith(("credits.", "code.")):
        parts = [format_money(details["amount_micro"])] if isinstance(details.get("amount_micro"), int) else []
        if details.get("note"):
            parts.append(f"“{details['note']}”")
        return " · ".join(parts)
    if action == "workspace.renamed":
        return _("from “%(old)s” to “%(new)s”", old=details.get("from", ""), new=details.get("to", ""))
    if action == "workspace.limits_changed":
        return _("changed: %(fields)s", fields=", ".join(sorted(details.get("changes") or {})))
    if action == "member.role_changed":
        return f"{role_label(details.get('from', ''))} → {role_label(details.get('to', ''))}"
    if action in ("member.invited", "member.joined", "invitation.revoked") and details.get("role"):
        return _("as %(role)s", role=role_label(details["role"]))
    if action == "member.removed":
        if details.get("left"):
            return _("left the workspace")
        return _("was %(role)s", role=role_label(details.get("role", "")))
    if action == "key.rotated":
        return _("new key %(prefix)s", prefix=details.get("new_prefix", ""))
    if action == "key.updated":
        return _("changed: %(fields)s", fields=", ".join(sorted(details.get("changes") or {})))
    if action in ("key.created", "key.revoked") and details.get("name"):
        return str(details["name"])
    return ""


def page_links(endpoint: str, audit: AuditPage, **fixed) -> dict:
    """Template helpers for the filter form and the newer/older links; `fixed` args ride along on every link."""
    def page_url(page: int | None = None) -> str:
        args = {name: value for name, value in fixed.items() if value}
        if page is not None:
            if audit.action:
                args["action"] = audit.action
            if page > 1:
                args["page"] = page
        return url_for(endpoint, **args)

    return {"page_url": page_url, "base_url": url_for(endpoint),
            "filter_fields": [(name, value) for name, value in fixed.items() if value]}


def page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) < 100_000 else 1


@bp.get("/audit", endpoint="index")
@workspace_view()
def index():
    # Owners only; anyone else who follows a link here is told so, and who the owners are.
    if g.membership.role != "owner":
        owners = db.session.scalars(select(User.email).join(Membership, Membership.user_id == User.id).where(
            Membership.workspace_id == g.workspace.id, Membership.role == "owner").order_by(User.email)).all()
        return render("audit/index.html", status=403, owners_only=True, owners=owners)
    action = request.args.get("action", "").strip()[:64] or None
    audit = audit_page(g.workspace.id, action=action, page=page_number())
    return render("audit/index.html", audit=audit, summary=summary, action_label=action_label,
                  **page_links("audit.index", audit))
