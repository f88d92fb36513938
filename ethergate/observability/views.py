"""GET /metrics for Prometheus: loopback clients, or anyone with ETHERGATE_METRICS_TOKEN; 404 for the rest.

ethergate/operators.py says why a proxy on the same host does not open /metrics to the internet;
operators should still refuse /metrics at the proxy.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort
from prometheus_client import CONTENT_TYPE_LATEST

from ..operators import from_loopback, has_metrics_token
from .metrics import exposition

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    if not (from_loopback() or has_metrics_token()):
        abort(404)  # the same answer as a path that does not exist
    return Response(exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})
