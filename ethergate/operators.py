"""Who may read operator detail (/metrics, the internals in /status): loopback, the metrics token, or staff.

Behind a reverse proxy the client address is the proxy's. A request carrying forwarding headers is
therefore never taken for a loopback client, so a proxy on the same host does not open operator detail
to the internet.
"""
from __future__ import annotations

import hmac
import ipaddress

from flask import current_app, request
from flask_login import current_user

FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


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


def is_staff() -> bool:
    return bool(current_user and current_user.is_authenticated and current_user.is_staff)


def is_operator() -> bool:
    return from_loopback() or has_metrics_token() or is_staff()
