"""Gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app`.

ETHERGATE_BIND (default 127.0.0.1:8000) and ETHERGATE_WORKERS (default 2) set where and how wide to serve.
Several workers without ETHERGATE_REDIS_URL would each count rate limits on their own and multiply every
key's limit, so start-up is refused unless ETHERGATE_ALLOW_PER_PROCESS_LIMITS=true says that is intended.

Only the standard library and gunicorn itself are imported here: the gevent worker patches the standard
library after the fork, and modules the master imported earlier (Flask, psycopg) would be inherited
unpatched. The app is therefore loaded by each worker (no preload), and the worker hook below starts
its JSON logging and its hold sweeper.

Metrics: each master start makes a fresh PROMETHEUS_MULTIPROC_DIR (under TMPDIR) before forking, so the
workers' counters are added up by /metrics and a restart starts from zero; it is removed on exit.
ETHERGATE_SHUTDOWN_GRACE_SECONDS bounds how long SIGTERM waits for in-flight streams.
"""
import gc
import json
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import time

from gunicorn import glogging

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


def shutdown_grace(environ) -> int:
    raw = (environ.get("ETHERGATE_SHUTDOWN_GRACE_SECONDS") or "30").strip()
    try:
        seconds = float(raw)
    except ValueError:
        raise StartRefused(f"ETHERGATE_SHUTDOWN_GRACE_SECONDS: expected a number of seconds, got {raw!r}") from None
    if not seconds > 0:
        raise StartRefused(f"ETHERGATE_SHUTDOWN_GRACE_SECONDS: must be greater than 0, got {raw!r}")
    return math.ceil(seconds)  # gunicorn takes whole seconds


def log_level(environ) -> str:
    raw = (environ.get("ETHERGATE_LOG_LEVEL") or "info").strip().lower()
    if raw not in ("debug", "info", "warning", "error"):
        raise StartRefused(f"ETHERGATE_LOG_LEVEL: expected one of debug, info, warning, error, got {raw!r}")
    return raw


def refuse(reason: StartRefused) -> None:
    print(f"ethergate: {reason}", file=sys.stderr, flush=True)
    sys.exit(2)


try:
    workers = worker_count(os.environ)
    check_rate_limit_scope(workers, os.environ)
    graceful_timeout = shutdown_grace(os.environ)
    loglevel = log_level(os.environ)
except StartRefused as exc:
    refuse(exc)

bind = os.environ.get("ETHERGATE_BIND") or "127.0.0.1:8000"
# gevent's WSGI server in each worker, as `python wsgi.py` runs: post_worker_init gives it the app's handler,
# which sends a response's headers and first chunk in one write (gunicorn's "gevent" worker uses two).
worker_class = "gunicorn.workers.ggevent.GeventPyWSGIWorker"
worker_connections = 1000
keepalive = 5
# Streams can run for minutes; the gevent worker's heartbeat keeps it alive, this only catches a stuck loop.
timeout = 60
# The master must not import the app: see the module docstring.
preload_app = False
# The app writes one JSON access line per request itself, with the request ID, key prefix and model.
accesslog = None


class JsonLines(logging.Formatter):
    """gunicorn's own lines in the app's JSON shape (the app's formatter would import Flask into the master)."""

    def __init__(self, environ):
        super().__init__()
        names = ("ETHERGATE_SECRET_KEY", "ETHERGATE_METRICS_TOKEN", "ETHERGATE_STRIPE_SECRET_KEY",
                 "ETHERGATE_STRIPE_WEBHOOK_SECRET", "ETHERGATE_DEEPSEEK_API_KEY", "ETHERGATE_QWEN_API_KEY",
                 "ETHERGATE_MOONSHOT_API_KEY")
        secrets = sorted({environ.get(n) for n in names if len(environ.get(n) or "") >= 8}, key=len, reverse=True)
        self.secrets = re.compile("|".join([re.escape(s) for s in secrets] +
                                           [r"cr_[A-Za-z0-9_-]{8,}", r"sk-[A-Za-z0-9]{8,}"]))

    def format(self, record):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        payload = {"ts": stamp, "level": record.levelname.lower(), "logger": record.name,
                   "msg": record.getMessage(), "pid": record.process}
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return self.secrets.sub("[REDACTED]", json.dumps(payload))


class JsonLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonLines(os.environ))


logger_class = JsonLogger
_metrics_dir = {}


def prepare_metrics_dir(environ) -> str:
    """A fresh PROMETHEUS_MULTIPROC_DIR for this master; workers forked later inherit it."""
    path = tempfile.mkdtemp(prefix="ethergate-metrics-")
    environ["PROMETHEUS_MULTIPROC_DIR"] = path
    _metrics_dir["path"] = path
    return path


def on_starting(server):
    # Checked again with the effective worker count, which `-w` on the command line can change.
    try:
        warning = check_rate_limit_scope(server.cfg.workers, os.environ)
    except StartRefused as exc:
        refuse(exc)
    if warning:
        server.log.warning("%s", warning)
    prepare_metrics_dir(os.environ)


def when_ready(server):
    listening = ", ".join(str(listener) for listener in server.LISTENERS)
    server.log.info("ethergate ready on %s with %s gevent workers", listening, server.cfg.workers)


def post_fork(server, worker):
    server.log.info("ethergate worker %s started", worker.pid)


def post_worker_init(worker):
    from ethergate.alerts.sweeper import start_alert_sweeper
    from ethergate.billing.sweeper import start_sweeper
    from ethergate.observability.logs import configure_logging
    from ethergate.serving import freeze_startup_objects, use_in_worker
    from ethergate.settings import public_base_url_for

    if worker.wsgi.config.get("PUBLIC_BASE_URL_FROM_BIND") and worker.sockets:
        host, port = worker.sockets[0].getsockname()[:2]
        worker.wsgi.config["PUBLIC_BASE_URL"] = public_base_url_for(host, port)
    configure_logging(worker.wsgi)
    start_sweeper(worker.wsgi)
    start_alert_sweeper(worker.wsgi)
    use_in_worker(worker)
    freeze_startup_objects()


def child_exit(server, worker):
    # A dead worker's in-flight-streams gauge must stop counting; its counters stay in the totals.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    from ethergate.limits.limiter import close_limiter

    if getattr(worker, "wsgi", None) is not None:
        close_limiter(worker.wsgi)  # gives back this worker's unused rate-limit slots, writes its token use
    # As in wsgi.py: skip the interpreter's last full collection, about a second per exiting worker.
    gc.freeze()


def on_exit(server):
    path = _metrics_dir.pop("path", None)
    if path:
        shutil.rmtree(path, ignore_errors=True)
