"""Operations: Prometheus metrics, structured JSON logs with request IDs, the access line.

`init_app` (from create_app) adds the request ID to every request, the access line and /metrics.
`logs.configure_logging` is called by the servers only (wsgi.py, gunicorn's worker hook).
Submodules are imported lazily: the usage recorder imports `metrics` while the gateway is loading.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import access, views

    access.init_app(app)
    app.register_blueprint(views.bp)
