"""The dashboard once a workspace has traffic: today and this month, a 24-hour chart, recent requests and errors,
and how many days the balance lasts at the current burn rate (the last 7 days' average daily spend)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _

from ..i18n import format_money, format_number
from ..timeutil import utcnow
from ..usage import activity
from ..usage.spend import spend_by_model, usage_totals
from . import charts

BURN_DAYS = 7


@dataclass(frozen=True)
class Activity:
    spend_today_micro: int
    requests_month: int
    burn_per_day_micro: int
    runway_days: float | None       # None: nothing spent lately, so no runway to speak of
    charts: list
    recent: list
    recent_errors: list


def hour_label(start: datetime) -> str:
    return format_datetime(start, "HH:mm")


def activity_charts(hours: list[activity.Hour]) -> list:
    locale = get_locale()
    labels = [hour_label(h.start) for h in hours]
    points = [h.start.isoformat(timespec="minutes") + "Z" for h in hours]
    requests = sum(h.requests for h in hours)
    errors = sum(h.errors for h in hours)
    spend = sum(h.cost_micro for h in hours)
    return [
        charts.bar_chart(
            "chart_activity", _("Requests, last 24 hours"),
            _("Requests per UTC hour over the last 24 hours: %(requests)s in total, %(errors)s failed.",
              requests=format_number(requests), errors=format_number(errors)),
            labels, points,
            [charts.Series("succeeded", _("Succeeded"), [h.requests - h.errors for h in hours], charts.PALETTE[0]),
             charts.Series("failed", _("Failed"), [h.errors for h in hours], charts.PALETTE[1])],
            lambda value: charts.compact_number(value, locale)),
        charts.bar_chart(
            "chart_activity_spend", _("Spend, last 24 hours"),
            _("Credits spent per UTC hour over the last 24 hours: %(total)s in total.", total=format_money(spend)),
            labels, points, [charts.Series("spend", _("Spend"), [h.cost_micro for h in hours], charts.PALETTE[3])],
            format_money),
    ]


def runway_days(available_micro: int, per_day_micro: int) -> float | None:
    """Days the available balance lasts at `per_day_micro`; None without recent spend."""
    if per_day_micro <= 0:
        return None
    return max(available_micro, 0) / per_day_micro


def workspace_activity(workspace, overview, now: datetime | None = None) -> Activity | None:
    """None until the workspace's first request: the dashboard then shows onboarding first."""
    if not activity.has_traffic(workspace.id):
        return None
    now = now or utcnow()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    spend_today = sum(row["spend_micro"] for row in spend_by_model(workspace.id, start=day))
    month = usage_totals(workspace.id, start=day.replace(day=1), end=now + timedelta(seconds=1))
    burned = sum(row["spend_micro"] for row in spend_by_model(workspace.id, start=now - timedelta(days=BURN_DAYS)))
    per_day = burned // BURN_DAYS
    return Activity(spend_today_micro=spend_today, requests_month=month["requests"], burn_per_day_micro=per_day,
                    runway_days=runway_days(overview.available_micro, per_day),
                    charts=activity_charts(activity.hourly(workspace.id, now)),
                    recent=activity.recent(workspace.id),
                    recent_errors=activity.recent(workspace.id, errors_only=True, limit=5))
