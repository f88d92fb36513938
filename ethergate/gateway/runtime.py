"""The gateway's long-lived parts, one per app: the upstream client and the provider health board."""
from __future__ import annotations

from flask import Flask, current_app

from .health import HealthBoard
from .upstream import Upstream


def runtime(app: Flask | None = None) -> tuple[Upstream, HealthBoard]:
    app = app or current_app
    state = app.extensions.get("ethergate.gateway")
    if state is None:
        health = HealthBoard()
        state = app.extensions["ethergate.gateway"] = (Upstream(app.config, health), health)
    return state
