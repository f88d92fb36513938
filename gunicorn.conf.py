"""Gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app`.

ETHERGATE_BIND (default 127.0.0.1:8000) and ETHERGATE_WORKERS (default 2) set where and how wide to serve.
Several workers without ETHERGATE_REDIS_URL would each count rate limits on their own and multiply every
key's limit, so start-up is refused unless ETHERGATE_ALLOW_PER_PROCESS_LIMITS=true says that is intended.

Only the standard library is imported here: the gevent worker patches it after the fork, and modules the
master imported earlier (ssl, Flask, psycopg) would be inherited unpatched.
"""
import os
import sys

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class StartRefused(Exception):
    """One line saying why the gateway will not start."""


def worker_count(environ) -> int:
    raw = (environ.get("ETHERGATE_WORKERS") or "2").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise StartRefused(f"ETHERGATE_WORKERS: expected a whole number >= 1, got {raw!r}")
    return int(raw)


def check_rate_limit_scope(workers: int, environ) -> str | None:
    """None when limits are global or there is one worker; a warning when per-process limits were allowed.

    Raises StartRefused when several workers would each keep their own limits without saying so.
    """
    if workers <= 1 or (environ.get("ETHERGATE_REDIS_URL") or "").strip():
        return None
    raw = (environ.get("ETHERGATE_ALLOW_PER_PROCESS_LIMITS") or "false").strip().lower()
    if raw not in TRUE_WORDS + FALSE_WORDS:
        raise StartRefused(f"ETHERGATE_ALLOW_PER_PROCESS_LIMITS: expected true or false, got {raw!r}")
    if raw in FALSE_WORDS:
        raise StartRefused(
            f"refusing to start {workers} workers without ETHERGATE_REDIS_URL: each worker would keep its own "
            f"rate limits, letting every key send up to {workers}x its limit; set ETHERGATE_REDIS_URL, or "
            f"ETHERGATE_WORKERS=1, or ETHERGATE_ALLOW_PER_PROCESS_LIMITS=true to accept per-process limits")
    return (f"RATE LIMITS ARE PER PROCESS: {workers} workers without ETHERGATE_REDIS_URL, so each key may send "
            f"up to {workers}x its limit (ETHERGATE_ALLOW_PER_PROCESS_LIMITS=true)")


def refuse(reason: StartRefused) -> None:
    print(f"ethergate: {reason}", file=sys.stderr, flush=True)
    sys.exit(2)


try:
    workers = worker_count(os.environ)
    check_rate_limit_scope(workers, os.environ)
except StartRefused as exc:
    refuse(exc)

bind = os.environ.get("ETHERGATE_BIND") or "127.0.0.1:8000"
worker_class = "gevent"
worker_connections = 1000
graceful_timeout = 30
keepalive = 5
# Streams can run for minutes; the gevent worker's heartbeat keeps it alive, this only catches a stuck loop.
timeout = 60


def on_starting(server):
    # Checked again with the effective worker count, which `-w` on the command line can change.
    try:
        warning = check_rate_limit_scope(server.cfg.workers, os.environ)
    except StartRefused as exc:
        refuse(exc)
    if warning:
        server.log.warning("%s", warning)


def when_ready(server):
    listening = ", ".join(str(listener) for listener in server.LISTENERS)
    server.log.info("ethergate ready on %s with %s gevent workers", listening, server.cfg.workers)


def post_fork(server, worker):
    server.log.info("ethergate worker %s started", worker.pid)
