"""Benchmark signals of one model, computed from routed traffic: every workspace's requests, last 7 days.

These are routing signals, not vendor-certified scores (the model page says so):

* weekly tokens   - prompt + completion tokens of all requests for the model in the window;
* route health    - per route (provider/upstream model), the share of upstream attempts that answered
                    2xx, from the attempts recorded on the newest SAMPLE_LIMIT requests;
* provider mix    - which provider served the successful requests (status < 400);
* latency         - p50/p95 of whole-request latency of successful requests, and of time to first token
                    of successful streams, over the newest SAMPLE_LIMIT of each;
* throughput      - completion tokens per second of generation for successful, uncancelled streams with
                    metered usage: completion_tokens / ((latency_ms - ttft_ms) / 1000), only where the
                    generation took at least MIN_GENERATION_MS (shorter spans measure timer noise); p50;
* daily uptime    - per UTC day, the share of requests not answered with a 5xx; days without requests
                    have no value.

Percentiles are computed here in Python over a bounded sample (the same numbers on SQLite and
PostgreSQL), with linear interpolation between ranks, as PostgreSQL's percentile_cont does.
"""
from __future__ import annotations

import math
import threading
import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import case, func, select

from ..extensions import db
from ..timeutil import utcnow
from .models import RequestLog
from .reports import as_date, day_of

logs = RequestLog.__table__
WINDOW_DAYS = 7
SAMPLE_LIMIT = 5000
MIN_GENERATION_MS = 50
CACHE_SECONDS = 60.0


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) of `values` with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class RouteHealth:
    route: str
    attempts: int
    successes: int

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.attempts if self.attempts else None


@dataclass(frozen=True)
class ProviderShare:
    provider: str
    requests: int
    share: float


@dataclass(frozen=True)
class DaySignal:
    day: date
    requests: int
    available: int          # requests not answered with a 5xx
    tokens: int

    @property
    def uptime(self) -> float | None:
        return self.available / self.requests if self.requests else None


@dataclass
class Signals:
    model_id: str
    start: datetime
    end: datetime
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    days: list[DaySignal] = field(default_factory=list)
    routes: list[RouteHealth] = field(default_factory=list)
    providers: list[ProviderShare] = field(default_factory=list)
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_samples: int = 0
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    ttft_samples: int = 0
    throughput_p50: float | None = None
    throughput_samples: int = 0

    @property
    def weekly_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def uptime(self) -> float | None:
        requests = sum(d.requests for d in self.days)
        return sum(d.available for d in self.days) / requests if requests else None


def window(now: datetime) -> tuple[datetime, datetime]:
    """The last WINDOW_DAYS UTC days, today (so far) included."""
    first = datetime.combine(now.date() - timedelta(days=WINDOW_DAYS - 1), time.min)
    return first, now


def compute_signals(model_id: str, routes: list[str], now: datetime | None = None) -> Signals:
    """Every signal for `model_id`; `routes` ("provider/upstream_model") are listed even without traffic."""
    start, end = window(now or utcnow())
    signals = Signals(model_id, start, end)
    scope = [logs.c.model_id == model_id, logs.c.created_at >= start, logs.c.created_at <= end]
    conn = db.session.connection()
    _daily(conn, conn.dialect.name, scope, signals)
    _providers(conn, scope, signals)
    _routes(conn, scope, routes, signals)
    _timings(conn, scope, signals)
    return signals


def _daily(conn, dialect: str, scope: list, signals: Signals) -> None:
    day = day_of(logs.c.created_at, dialect).label("day")
    rows = conn.execute(
        select(day, func.count().label("requests"),
               func.coalesce(func.sum(case((logs.c.status_code < 500, 1), else_=0)), 0).label("available"),
               func.coalesce(func.sum(logs.c.prompt_tokens), 0).label("prompt"),
               func.coalesce(func.sum(logs.c.completion_tokens), 0).label("completion"))
        .where(*scope).group_by(day)).all()
    found = {as_date(r.day): r for r in rows}
    first = signals.start.date()
    for offset in range(WINDOW_DAYS):
        current = first + timedelta(days=offset)
        row = found.get(current)
        if row is None:
            signals.days.append(DaySignal(current, 0, 0, 0))
            continue
        signals.days.append(DaySignal(current, int(row.requests), int(row.available),
                                      int(row.prompt) + int(row.completion)))
        signals.requests += int(row.requests)
        signals.prompt_tokens += int(row.prompt)
        signals.completion_tokens += int(row.completion)


def _providers(conn, scope: list, signals: Signals) -> None:
    count = func.count().label("requests")
    rows = conn.execute(select(logs.c.provider, count)
                        .where(*scope, logs.c.status_code < 400, logs.c.provider.is_not(None))
                        .group_by(logs.c.provider).order_by(count.desc(), logs.c.provider)).all()
    total = sum(int(r.requests) for r in rows)
    signals.providers = [ProviderShare(r.provider, int(r.requests), int(r.requests) / total) for r in rows]


def _routes(conn, scope: list, routes: list[str], signals: Signals) -> None:
    rows = conn.execute(select(logs.c.attempts, logs.c.provider, logs.c.upstream_model, logs.c.status_code)
                        .where(*scope).order_by(logs.c.created_at.desc(), logs.c.id.desc())
                        .limit(SAMPLE_LIMIT)).all()
    tally: dict[str, list[int]] = {route: [0, 0] for route in routes}
    for row in rows:
        attempts = row.attempts or []
        if not attempts and row.provider and row.upstream_model:
            # A row without an attempts list went to one route; its own status is that route's answer.
            attempts = [{"provider": row.provider, "upstream_model": row.upstream_model, "status": row.status_code}]
        for attempt in attempts:
            if not isinstance(attempt, dict) or not attempt.get("provider"):
                continue
            counts = tally.setdefault(f"{attempt['provider']}/{attempt.get('upstream_model')}", [0, 0])
            counts[0] += 1
            status = attempt.get("status")
            counts[1] += 1 if isinstance(status, int) and 200 <= status < 300 else 0
    signals.routes = [RouteHealth(route, attempts, successes) for route, (attempts, successes) in tally.items()]


def _sample(conn, column, scope: list, *conditions) -> list:
    return [r[0] for r in conn.execute(select(column).where(*scope, *conditions)
                                       .order_by(logs.c.created_at.desc(), logs.c.id.desc())
                                       .limit(SAMPLE_LIMIT)).all()]


def _timings(conn, scope: list, signals: Signals) -> None:
    ok = logs.c.status_code < 400
    latencies = _sample(conn, logs.c.latency_ms, scope, ok, logs.c.latency_ms.is_not(None))
    signals.latency_samples = len(latencies)
    signals.latency_p50, signals.latency_p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    ttfts = _sample(conn, logs.c.ttft_ms, scope, ok, logs.c.stream.is_(True), logs.c.ttft_ms.is_not(None))
    signals.ttft_samples = len(ttfts)
    signals.ttft_p50, signals.ttft_p95 = percentile(ttfts, 0.5), percentile(ttfts, 0.95)
    streams = conn.execute(
        select(logs.c.completion_tokens, logs.c.latency_ms, logs.c.ttft_ms)
        .where(*scope, ok, logs.c.stream.is_(True), logs.c.cancelled.is_(False), logs.c.estimated.is_(False),
               logs.c.completion_tokens > 0, logs.c.ttft_ms.is_not(None), logs.c.latency_ms.is_not(None),
               logs.c.latency_ms - logs.c.ttft_ms >= MIN_GENERATION_MS)
        .order_by(logs.c.created_at.desc(), logs.c.id.desc()).limit(SAMPLE_LIMIT)).all()
    rates = [r.completion_tokens / ((r.latency_ms - r.ttft_ms) / 1000) for r in streams]
    signals.throughput_samples = len(rates)
    signals.throughput_p50 = percentile(rates, 0.5)


_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, Signals]] = {}


def signals_for(model_id: str, routes: list[str]) -> Signals:
    """compute_signals, kept for CACHE_SECONDS per database and model: a public page must stay cheap."""
    from flask import current_app

    key = (current_app.config["SQLALCHEMY_DATABASE_URI"], model_id)
    cached = _cache.get(key)
    if cached is not None and clock.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    signals = compute_signals(model_id, routes)
    with _lock:
        _cache[key] = (clock.monotonic(), signals)
        if len(_cache) > 512:
            _cache.pop(next(iter(_cache)))
    return signals


def compute_mean_latency(now: datetime | None = None) -> dict[str, int]:
    """{model_id: mean whole-request latency in ms of its successful requests}, last WINDOW_DAYS days, one query."""
    start, end = window(now or utcnow())
    query = (select(logs.c.model_id, func.avg(logs.c.latency_ms).label("mean"))
             .where(logs.c.created_at >= start, logs.c.created_at <= end, logs.c.status_code < 400,
                    logs.c.model_id.is_not(None), logs.c.latency_ms.is_not(None))
             .group_by(logs.c.model_id))
    return {row.model_id: round(float(row.mean)) for row in db.session.execute(query)}


def mean_latency_by_model() -> dict[str, int]:
    """compute_mean_latency, kept for CACHE_SECONDS per database: the public list sorts by it."""
    from flask import current_app

    key = (current_app.config["SQLALCHEMY_DATABASE_URI"], "*mean-latency")
    cached = _cache.get(key)
    if cached is not None and clock.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    found = compute_mean_latency()
    with _lock:
        _cache[key] = (clock.monotonic(), found)
    return found


def clear_cache() -> None:
    with _lock:
        _cache.clear()
