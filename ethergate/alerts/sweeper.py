"""The alert sweep: tell new crossings and deliver due webhooks, from a background greenlet in every server."""
from __future__ import annotations

import logging

from flask import Flask

from . import checks, webhooks

log = logging.getLogger("ethergate.alerts")


def sweep_once(app: Flask) -> tuple[int, int]:
    """(crossings told, webhooks delivered); never raises, the next run tries again."""
    with app.app_context():
        from ..extensions import db
        told = delivered = 0
        try:
            told = len(checks.check_crossings())
        except Exception:  # noqa: BLE001
            db.session.remove()  # whatever the failed check left in the session is dropped
            log.exception("alert check failed")
        try:
            delivered = webhooks.deliver_due()
            webhooks.prune()
        except Exception:  # noqa: BLE001
            log.exception("webhook delivery failed")
        db.session.remove()
    return told, delivered


def start_alert_sweeper(app: Flask):
    """A greenlet checking every SWEEP_INTERVAL_SECONDS; needs a gevent-patched process."""
    import gevent

    interval = app.config["SWEEP_INTERVAL_SECONDS"]

    def loop():
        while True:
            sweep_once(app)
            gevent.sleep(interval)

    return gevent.spawn(loop)
