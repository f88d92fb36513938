"""Posting captures that failed when their request ended, and releasing holds left behind by a crashed
process, from inside every running server.

Each instance sweeps on its own; the conditional UPDATEs in ledger.sweep make two instances sweeping the
same hold harmless (only one resolves it).
"""
from __future__ import annotations

import logging

from flask import Flask

from ..observability.metrics import record_sweep
from . import ledger

log = logging.getLogger("ethergate.billing")
_state: dict = {"released": 0, "posted": 0, "runs": 0, "errors": 0}


def sweep_once(app: Flask) -> int:
    with app.app_context():
        from ..extensions import db
        try:
            result = ledger.sweep()
        except Exception:  # noqa: BLE001 (the next run tries again; never kill the server)
            _state["errors"] += 1
            record_sweep(failed=True)
            log.exception("hold sweep failed")
            return 0
        finally:
            db.session.remove()
    _state["runs"] += 1
    _state["released"] += result.released
    _state["posted"] += result.posted
    record_sweep(released=result.released, posted=result.posted)
    if result.released:
        log.warning("released %d expired holds", result.released)
    if result.posted or result.failed:
        log.warning("posted %d owed captures (%d still owed after failing again)", result.posted, result.failed)
    return result.released


def start_sweeper(app: Flask):
    """A background greenlet sweeping every SWEEP_INTERVAL_SECONDS; needs a gevent-patched process."""
    import gevent

    interval = app.config["SWEEP_INTERVAL_SECONDS"]

    def loop():
        while True:
            sweep_once(app)
            gevent.sleep(interval)

    return gevent.spawn(loop)


def sweeper_stats() -> dict:
    return dict(_state)
