"""Prometheus series for the gateway, correct under several gunicorn workers.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it before forking workers), every value lives
in a per-process file and /metrics adds them up with MultiProcessCollector; without it (`python
wsgi.py`, tests) the default in-process registry is used. The variable must be set before this module
is imported, which is why the gunicorn master creates the directory and never loads the app itself.

Request series are recorded in one place, `observe_request`, called for every request-log row.
Nothing here may raise into a request: a failure to count is logged once and otherwise ignored.
"""
from __future__ import annotations

import logging
import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

# LLM calls span a cached 401 (milliseconds) to a long reasoning stream (minutes).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
TOKEN_KINDS = ("prompt", "completion", "cached", "reasoning")
RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded", "tokens_rate_limit_exceeded"})

REQUESTS = Counter("ethergate_requests_total", "Requests to /v1 by catalog model, provider and HTTP status.",
                   ("model", "provider", "status"))
LATENCY = Histogram("ethergate_request_duration_seconds",
                    "Time from receiving a /v1 request to its log row (the whole stream for streams).",
                    ("model", "provider"), buckets=LATENCY_BUCKETS)
TIME_TO_FIRST_TOKEN = Histogram("ethergate_time_to_first_token_seconds",
                                "Time from receiving a streamed request to its first content chunk.",
                                ("model", "provider"), buckets=LATENCY_BUCKETS)
TOKENS = Counter("ethergate_tokens_total", "Tokens billed, by model and kind (prompt, completion, cached, "
                 "reasoning; cached is part of prompt, reasoning part of completion).", ("model", "kind"))
CREDITS_DEBITED = Counter("ethergate_credits_debited_micro_total",
                          "Credits debited for usage, in micro-units of ETHERGATE_CURRENCY.", ("model",))
UPSTREAM_ERRORS = Counter("ethergate_upstream_errors_total",
                          "Failed upstream attempts by provider and kind (failover attempts included; "
                          "stream_interrupted = the provider broke a stream that had started).",
                          ("provider", "kind"))
RATE_LIMITED = Counter("ethergate_rate_limited_total", "Requests refused with 429 by a key's own limit.",
                       ("code",))
PAYMENT_REQUIRED = Counter("ethergate_payment_required_total",
                           "Requests refused with 402 (insufficient credits or the key's spend cap).", ("code",))
STREAMS_IN_FLIGHT = Gauge("ethergate_streams_in_flight", "Streams being relayed to clients right now.",
                          multiprocess_mode="livesum")
SWEEP_RUNS = Counter("ethergate_hold_sweep_runs_total", "Completed sweeps for expired credit holds.")
SWEEP_ERRORS = Counter("ethergate_hold_sweep_errors_total", "Sweeps for expired credit holds that failed.")
HOLDS_RELEASED = Counter("ethergate_holds_released_total",
                         "Credit holds released by the sweep because their request never finished.")
CAPTURES_OVER_HOLD = Counter("ethergate_captures_over_hold_total",
                             "Usage entries that cost more than their credit hold (billed as metered).", ("model",))
CAPTURES_OWED = Counter("ethergate_captures_owed_total",
                        "Captures that could not be written when their request ended: owed = recorded on the "
                        "hold for the sweep to post, lost = not even that could be written.", ("outcome",))
CAPTURES_POSTED = Counter("ethergate_captures_posted_by_sweep_total",
                          "Owed captures the sweep posted to the ledger.")
GROUP_COMMITS = Counter("ethergate_db_group_commits_total",
                        "SQLite transactions written by group commit (several requests' holds and captures each).")
GROUP_COMMIT_WRITES = Counter("ethergate_db_group_commit_writes_total",
                              "Holds, captures and releases written through group commit; divided by "
                              "ethergate_db_group_commits_total, the mean batch size.")

_warned = {"done": False}
# Labelled children by (metric, labels): `labels()` validates and locks on every call, several times per request.
# The label values come from the catalog, status codes and fixed kinds, so this stays small; the bound is a guard.
_children: dict[tuple, object] = {}
MAX_CHILDREN = 10_000


def _child(metric, *labels):
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        if len(_children) >= MAX_CHILDREN:
            _children.clear()
        child = _children[key] = metric.labels(*labels)
    return child


def _warn_once(what: str) -> None:
    if not _warned["done"]:
        _warned["done"] = True
        log.warning("metrics: could not record %s; further failures are not logged", what, exc_info=True)


def observe_request(row: dict) -> None:
    """Count one request-log row: its request, latency, tokens, cost, upstream errors and refusals."""
    try:
        _observe(row)
    except Exception:  # noqa: BLE001 (a metric must never fail a request)
        _warn_once("a request")


def _observe(row: dict) -> None:
    status = int(row.get("status_code") or 0)
    model, provider = row.get("model_id") or "", row.get("provider") or ""
    _child(REQUESTS, model, provider, str(status)).inc()
    if row.get("latency_ms") is not None:
        _child(LATENCY, model, provider).observe(row["latency_ms"] / 1000)
    if row.get("ttft_ms") is not None:
        _child(TIME_TO_FIRST_TOKEN, model, provider).observe(row["ttft_ms"] / 1000)
    for kind in TOKEN_KINDS:
        count = int(row.get(f"{kind}_tokens") or 0)
        if count > 0:
            _child(TOKENS, model, kind).inc(count)
    cost = int(row.get("cost_micro") or 0)
    if cost > 0:
        _child(CREDITS_DEBITED, model).inc(cost)
    for attempt in row.get("attempts") or ():
        if isinstance(attempt, dict) and attempt.get("error"):
            _child(UPSTREAM_ERRORS, attempt.get("provider") or provider, attempt.get("kind") or "unknown").inc()
    code = row.get("error_code")
    if code == "provider_request_failed" and row.get("stream") and _stream_had_started(row):
        _child(UPSTREAM_ERRORS, provider, "stream_interrupted").inc()
    elif status == 429 and code in RATE_LIMIT_CODES:
        _child(RATE_LIMITED, code).inc()
    elif status == 402:
        _child(PAYMENT_REQUIRED, code or "").inc()


def _stream_had_started(row: dict) -> bool:
    # A stream the provider broke after it started: its last attempt succeeded (failover errors have their own).
    attempts = row.get("attempts") or ()
    return bool(attempts) and isinstance(attempts[-1], dict) and attempts[-1].get("status") == 200


def stream_opened() -> None:
    try:
        STREAMS_IN_FLIGHT.inc()
    except Exception:  # noqa: BLE001
        _warn_once("a stream")


def stream_closed() -> None:
    try:
        STREAMS_IN_FLIGHT.dec()
    except Exception:  # noqa: BLE001
        _warn_once("a stream")


def record_sweep(released: int = 0, failed: bool = False, posted: int = 0) -> None:
    try:
        if failed:
            SWEEP_ERRORS.inc()
            return
        SWEEP_RUNS.inc()
        if released:
            HOLDS_RELEASED.inc(released)
        if posted:
            CAPTURES_POSTED.inc(posted)
    except Exception:  # noqa: BLE001
        _warn_once("a hold sweep")


def record_over_hold(model: str) -> None:
    try:
        _child(CAPTURES_OVER_HOLD, model).inc()
    except Exception:  # noqa: BLE001
        _warn_once("an over-hold capture")


def record_owed_capture(outcome: str) -> None:
    try:
        _child(CAPTURES_OWED, outcome).inc()
    except Exception:  # noqa: BLE001
        _warn_once("an owed capture")


def record_group_commit(writes: int) -> None:
    try:
        GROUP_COMMITS.inc()
        GROUP_COMMIT_WRITES.inc(writes)
    except Exception:  # noqa: BLE001
        _warn_once("a group commit")


def exposition() -> bytes:
    """Every series in Prometheus' text format, summed over all worker processes when there are several."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
