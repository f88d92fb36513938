"""`/status/page`: the human view of `gather_status()` (the JSON at `/status` stays for machines).

Provider health (success rate, latency, last error) is what this server process has seen; each
process keeps its own health board, which the page says. The board refreshes itself every 30 s
with htmx and is complete without it.
"""
from __future__ import annotations

from flask import Blueprint, current_app
from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .catalog.readiness import provider_key_setting
from .catalog.snapshot import get_snapshot
from .console import nav
from .console.rendering import render
from .gateway.status import gather_status
from .timeutil import utcnow
from .usage.charts import percent

bp = Blueprint("status_page", __name__)
REFRESH_SECONDS = 30

# The public header links here instead of the JSON endpoint.
nav.PUBLIC_NAV[:] = [item for item in nav.PUBLIC_NAV if item.endpoint != "status.status"]
nav.add_public_item(nav.NavItem("status_page.index", _l("Status"), order=30, section="status_page."))


def provider_reason(provider_id: str) -> str:
    """Why a provider cannot serve, in the reader's language (readiness.py words it for logs and JSON)."""
    keys = current_app.config.get("PROVIDER_KEYS") or {}
    if provider_id not in keys:
        return _("%(provider)s is not supported by this gateway", provider=provider_id)
    return _("%(provider)s has no API key (%(setting)s is not set)", provider=provider_id,
             setting=provider_key_setting(provider_id))


def model_reason(routes: list[str]) -> str:
    if not routes:
        return _("no active route")
    providers = dict.fromkeys(route.split("/", 1)[0] for route in routes)
    return "; ".join(provider_reason(provider) for provider in providers)


def age(seconds: float | None) -> str | None:
    return None if seconds is None else format_timedelta(-max(seconds, 1.0), add_direction=True)


@bp.after_request
def fresh(response):
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response


@bp.get("/status/page")
def index():
    status = gather_status()
    names = {}
    if status["database"]["reachable"]:
        names = {p.id: p.name for p in get_snapshot().providers.values()}
    models = [dict(model, why=None if model["ready"] else model_reason(model["routes"])) for model in status["models"]]
    providers = [dict(state, id=provider_id, why=None if state["configured"] else provider_reason(provider_id),
                      error_age=age(state.get("last_error_age_seconds")))
                 for provider_id, state in status["providers"].items()]
    ready = sum(1 for model in models if model["ready"])
    response = render("status/page.html", report=status, providers=providers, models=models, ready=ready,
                      names=names, uptime=format_timedelta(status["uptime_seconds"], threshold=1),
                      checked_at=utcnow(), refresh_seconds=REFRESH_SECONDS,
                      percent=lambda share: percent(share, get_locale()))
    response.status_code = 200 if status["database"]["reachable"] else 503
    return response
