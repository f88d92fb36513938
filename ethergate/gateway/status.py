"""GET /status: gateway, database, rate limiter, providers and models, as JSON."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..catalog.readiness import model_readiness, provider_readiness
from ..catalog.snapshot import get_snapshot
from ..extensions import db
from ..limits.limiter import get_limiter
from .runtime import runtime

bp = Blueprint("status", __name__)
STARTED = time.time()


def database_status() -> dict:
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
        return {"reachable": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                "engine": db.engine.dialect.name}
    except Exception as exc:  # noqa: BLE001 (status must describe the failure, not raise it)
        db.session.rollback()
        return {"reachable": False, "error": type(exc).__name__, "engine": db.engine.dialect.name}


def gather_status() -> dict:
    config = current_app.config
    database = database_status()
    _upstream, health = runtime()
    providers, models = {}, []
    if database["reachable"]:
        snapshot = get_snapshot()
        for provider_id, info in sorted(snapshot.providers.items()):
            configured, reason = provider_readiness(provider_id, config)
            providers[provider_id] = {"name": info.name, "configured": configured, "reason": reason,
                                      **health.provider_status(provider_id)}
        for model in sorted(snapshot.models.values(), key=lambda m: m.id):
            ready, reason = model_readiness(model, config)
            models.append({"id": model.id, "ready": ready, "reason": reason,
                           "routes": [f"{r.provider}/{r.upstream_model}" for r in model.routes]})
    limiter = get_limiter(current_app).status()
    healthy = database["reachable"] and limiter.get("healthy", True)
    return {
        "status": "ok" if healthy else "degraded",
        "version": config["VERSION"],
        "uptime_seconds": int(time.time() - STARTED),
        "database": database,
        "rate_limiter": limiter,
        "providers": providers,
        "models": models,
    }


@bp.get("/status")
def status():
    payload = gather_status()
    response = jsonify(payload)
    response.status_code = 200 if payload["database"]["reachable"] else 503
    response.headers["Cache-Control"] = "no-store"
    return response
