"""Links that leave the app in an email: always on ETHERGATE_PUBLIC_BASE_URL, never on the request's Host."""
from __future__ import annotations

from flask import current_app, url_for


def public_url(endpoint: str, **values) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + url_for(endpoint, **values)
