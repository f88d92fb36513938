"""The `console` blueprint ("/console/..."): workspaces, members, the dashboard, alerts and the Playground."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")


@bp.after_request
def private_page(response):
    # Console pages show balances and members; keep them out of shared and back/forward caches.
    response.headers.setdefault("Cache-Control", "no-store")
    response.vary.add("HX-Request")
    return response
