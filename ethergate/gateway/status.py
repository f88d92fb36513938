"""GET /status: the gateway's state as JSON, public by default, with internals for operators only.

Everyone gets: overall status, version, whether the database and rate limiter work, per provider its
state (operational / degraded / unavailable) with success rate and latency from our own request log
over the degraded check's window, 24 h and 7 d plus 24 hourly buckets, per model the same windows and
whether it is ready, and the incident notes staff wrote. Operators (loopback, the metrics token, or a
staff session; see ethergate/operators.py) also get the internals: database engine and round trip,
limiter backend and failure mode, this process's health board with raw provider errors, and why a
provider or model is not ready (which setting is missing).
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..catalog.readiness import model_readiness, provider_readiness
from ..catalog.snapshot import get_snapshot
from ..database import unit_of_work
from ..extensions import db
from ..incidents.services import public_incidents
from ..limits.limiter import get_limiter
from ..operators import is_operator
from ..usage.service_health import Health, HealthCache, Window
from .runtime import runtime

bp = Blueprint("status", __name__)
STARTED = time.time()


def database_status() -> dict:
    started = time.perf_counter()
    try:
        with unit_of_work(writes=False):
            db.session.execute(text("SELECT 1"))
        return {"reachable": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                "engine": db.engine.dialect.name}
    except Exception as exc:  # noqa: BLE001 (status must describe the failure, not raise it)
        return {"reachable": False, "error": type(exc).__name__, "engine": db.engine.dialect.name}


def health_cache() -> HealthCache:
    return current_app.extensions.setdefault("ethergate.service_health", HealthCache())


def degraded_below(provider_id: str) -> float:
    floors = current_app.config["STATUS_DEGRADED_BELOW"]
    return floors.get(provider_id, floors["*"])


def provider_state(configured: bool, recent: Window, open_circuits: int, floor: float, min_requests: int) -> str:
    """Degraded: below its floor over the window (with enough requests to judge) or a route resting here."""
    if not configured:
        return "unavailable"
    if open_circuits:
        return "degraded"
    if recent.requests >= min_requests and recent.success_rate is not None and recent.success_rate < floor:
        return "degraded"
    return "operational"


def incident_json(incident) -> dict:
    return {"id": incident.id, "title": incident.title, "body": incident.body, "provider": incident.provider,
            "started_at": incident.started_at.isoformat(timespec="seconds") + "Z",
            "resolved_at": incident.resolved_at.isoformat(timespec="seconds") + "Z" if incident.resolved_at else None,
            "resolution": incident.resolution}


def _windows(health, minutes: int) -> dict:
    return {"recent": dict(health.recent.as_json(), window_minutes=minutes),
            "last_24h": health.day.as_json(), "last_7d": health.week.as_json()}


def gather_status(operator: bool = False) -> dict:
    """The whole report; `operator` adds the internals named in the module docstring."""
    config = current_app.config
    database = database_status()
    _upstream, board = runtime()
    minutes, min_requests = config["STATUS_WINDOW_MINUTES"], config["STATUS_MIN_REQUESTS"]
    providers, models, incidents, hour_starts = {}, [], [], []
    if database["reachable"]:
        report = health_cache().get(minutes)
        hour_starts = report.hour_starts
        snapshot = get_snapshot()
        for provider_id, info in sorted(snapshot.providers.items()):
            configured, reason = provider_readiness(provider_id, config)
            health = report.providers.get(provider_id) or Health()
            process = board.provider_status(provider_id)
            floor = degraded_below(provider_id)
            entry = {"name": info.name, "configured": configured,
                     "state": provider_state(configured, health.recent, process["open_circuits"], floor, min_requests),
                     "degraded_below": floor, **_windows(health, minutes),
                     "hourly": [dict(window.as_json(), hour=start.isoformat(timespec="minutes") + "Z")
                                for start, window in zip(hour_starts, health.hours or [Window()] * len(hour_starts))]}
            if operator:
                entry.update(reason=reason, **process)
            providers[provider_id] = entry
        for model in sorted(snapshot.models.values(), key=lambda m: m.id):
            ready, reason = model_readiness(model, config)
            health = report.models.get(model.id) or Health()
            entry = {"id": model.id, "ready": ready, **_windows(health, minutes)}
            if operator:
                entry.update(reason=reason, routes=[f"{r.provider}/{r.upstream_model}" for r in model.routes])
            models.append(entry)
        incidents = [incident_json(incident) for incident in public_incidents()]
    limiter = get_limiter(current_app).status()
    degraded = any(p["state"] == "degraded" for p in providers.values())
    open_incidents = any(incident["resolved_at"] is None for incident in incidents)
    serving = database["reachable"] and limiter.get("healthy", True)
    return {
        "status": "ok" if serving and not degraded and not open_incidents else "degraded",
        "version": config["VERSION"],
        "uptime_seconds": int(time.time() - STARTED),
        "detail": "operator" if operator else "public",
        "database": database if operator else {"reachable": database["reachable"]},
        "rate_limiter": limiter if operator else {"healthy": limiter.get("healthy", True)},
        "providers": providers,
        "models": models,
        "incidents": incidents,
    }


@bp.get("/status")
def status():
    payload = gather_status(operator=is_operator())
    response = jsonify(payload)
    response.status_code = 200 if payload["database"]["reachable"] else 503
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Authorization")
    response.vary.add("Cookie")
    return response
