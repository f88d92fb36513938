"""The workspace dashboard: balance, this month's spend, today's traffic, and the first request."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, g
from sqlalchemy import func, select

from ..billing.ledger import account_state
from ..billing.models import DEFAULT_LOW_BALANCE_MICRO
from ..extensions import db
from ..keys.models import ApiKey
from ..timeutil import utcnow
from ..usage.spend import spend_by_model, usage_totals
from .blueprint import bp
from .dashboard_activity import workspace_activity
from .shell.access import workspace_view
from .shell.rendering import render
from .snippets import LANGUAGES, example_model, snippets



@dataclass(frozen=True)
class Overview:
    balance_micro: int
    held_micro: int
    low_balance_micro: int
    spend_month_micro: int
    requests_today: int
    errors_today: int
    keys: int

    @property
    def available_micro(self) -> int:
        return self.balance_micro - self.held_micro

    @property
    def low_balance(self) -> bool:
        # What the gateway checks before routing is the available amount, so that is what warns.
        return self.available_micro < self.low_balance_micro


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def overview(workspace, now: datetime | None = None) -> Overview:
    """The dashboard's numbers; days and months are UTC, like every report."""
    now = now or utcnow()
    balance, held = account_state(workspace.id)
    keys = db.session.scalar(select(func.count()).select_from(ApiKey).where(
        ApiKey.workspace_id == workspace.id, ApiKey.revoked_at.is_(None)))
    spend = sum(row["spend_micro"] for row in spend_by_model(workspace.id, start=month_start(now)))
    today = usage_totals(workspace.id, start=day_start(now), end=day_start(now) + timedelta(days=1))
    threshold = workspace.low_balance_micro if workspace.low_balance_micro is not None else DEFAULT_LOW_BALANCE_MICRO
    return Overview(balance_micro=balance, held_micro=held, low_balance_micro=threshold, spend_month_micro=spend,
                    requests_today=today["requests"], errors_today=today["errors"], keys=int(keys or 0))


@bp.get("/w/<slug>/")
@workspace_view()
def dashboard():
    base_url = current_app.config["PUBLIC_BASE_URL"] + "/v1"
    model = example_model()
    summary = overview(g.workspace)
    return render("console/dashboard.html", overview=summary, base_url=base_url, model=model,
                  snippets=snippets(base_url, model), snippet_languages=LANGUAGES,
                  activity=workspace_activity(g.workspace, summary))
