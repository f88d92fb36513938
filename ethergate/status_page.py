"""`/status/page`: the public status page, drawn from `gather_status()` without the operator internals.

Success rates and latencies come from our own request log (ethergate/usage/service_health.py); a
provider is degraded below its configured floor (ETHERGATE_STATUS_DEGRADED_BELOW). Staff incident notes
appear here; the internals (database engine, limiter mode, raw provider errors) live on the staff-only
operator view at /support/status. The board refreshes itself every 30 s with htmx and is complete
without it.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .console.charts import percent
from .console.shell import nav
from .console.shell.formats import when
from .console.shell.rendering import render
from .gateway.status import gather_status
from .timeutil import utcnow

bp = Blueprint("status_page", __name__)
REFRESH_SECONDS = 30
STATES = {"operational": _l("Operational"), "degraded": _l("Degraded"), "unavailable": _l("Not offered")}

# The public header links here instead of the JSON endpoint.
nav.PUBLIC_NAV[:] = [item for item in nav.PUBLIC_NAV if item.endpoint != "status.status"]
nav.add_public_item(nav.NavItem("status_page.index", _l("Status"), order=30, section="status_page."))


def headline(report: dict, ready: int) -> tuple[str, str]:
    """(tone, words) for the banner: "All systems operational" only when nothing below is wrong."""
    if not report["database"]["reachable"]:
        return "bad", _("Service disruption: requests cannot be served")
    if any(incident["resolved_at"] is None for incident in report["incidents"]):
        return "warning", _("Incident in progress")
    if report["status"] != "ok":
        return "warning", _("Degraded performance")
    if ready < len(report["models"]):
        return "good", _("Operational, some models unavailable")
    return "good", _("All systems operational")


def bar_tone(window: dict, floor: float) -> str:
    rate = window["success_rate"]
    if rate is None:
        return "none"
    return "ok" if rate >= floor else ("warn" if rate >= 0.5 else "bad")


def stamp(iso: str) -> str:
    """An ISO UTC time from the report in the console's one format, with the zone."""
    return when(datetime.fromisoformat(iso.rstrip("Z")))


@bp.after_request
def fresh(response):
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response


@bp.get("/status/page")
def index():
    report = gather_status(operator=False)
    ready = sum(1 for model in report["models"] if model["ready"])
    tone, words = headline(report, ready)
    response = render("status/page.html", report=report, ready=ready, tone=tone, headline=words,
                      states=STATES, bar_tone=bar_tone, stamp=stamp, checked_at=utcnow(),
                      refresh_seconds=REFRESH_SECONDS, percent=lambda share: percent(share, get_locale()))
    response.status_code = 200 if report["database"]["reachable"] else 503
    return response
