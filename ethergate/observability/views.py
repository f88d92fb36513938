"""GET /metrics for Prometheus: loopback clients, or anyone with ETHERGATE_METRICS_TOKEN; 404 for the rest.

Behind a reverse proxy the client address is the proxy's. A request carrying forwarding headers is
therefore never taken for a loopback client, so a proxy on the same host does not open /metrics to
the internet; operators should still refuse /metrics at the proxy.
"""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from .metrics import exposition

bp = Blueprint("metrics", __name__)
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@bp.get("/metrics")
def metrics():
    if not (from_loopback() or has_metrics_token()):
        abort(404)  # the same answer as a path that does not exist
    return Response(exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


def from_loopback() -> bool:
    if any(header in request.headers for header in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def has_metrics_token() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return False
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(sent.strip().encode(), token.encode())
