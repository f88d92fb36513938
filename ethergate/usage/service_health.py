"""Service health from our own request log: success rate and latency per provider and per model.

A request counts when it was routed to a provider and the client did not cancel it. It succeeded when
the answer was below 400 and failed when it was 500 or above (the gateway or the provider failed);
4xx answers are the caller's and count neither way. Latency is the mean over successful requests.
Hours are UTC hours; the sums are one query per grouping, on either engine, cached for a short while
because the public status page is read often and the 7-day scan is the expensive part.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select

from ..database import unit_of_work
from ..extensions import db
from ..timeutil import utcnow
from .models import RequestLog

logs = RequestLog.__table__
CACHE_SECONDS = 30.0
HOURS = 24


@dataclass(frozen=True)
class Window:
    requests: int = 0
    failures: int = 0
    latency_ms: int | None = None

    @property
    def success_rate(self) -> float | None:
        return round((self.requests - self.failures) / self.requests, 4) if self.requests else None

    def as_json(self) -> dict:
        return {"requests": self.requests, "failures": self.failures, "success_rate": self.success_rate,
                "latency_ms_avg": self.latency_ms}


@dataclass
class Health:
    recent: Window = field(default_factory=Window)   # the degraded check's window (minutes)
    day: Window = field(default_factory=Window)
    week: Window = field(default_factory=Window)
    hours: list[Window] = field(default_factory=list)  # HOURS windows, oldest first (providers only)


@dataclass
class Report:
    now: datetime
    recent_minutes: int
    providers: dict[str, Health]
    models: dict[str, Health]
    hour_starts: list[datetime]


def hour_of(column, dialect: str):
    """The UTC hour of a timestamp as 'YYYY-MM-DD HH', on either engine."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H", column)
    return func.to_char(func.date_trunc("hour", column), "YYYY-MM-DD HH24")


def _counted():
    return and_(logs.c.provider.is_not(None), logs.c.cancelled.is_(False),
                (logs.c.status_code < 400) | (logs.c.status_code >= 500))


def _window_columns(since: datetime, label: str) -> list:
    inside = logs.c.created_at >= since
    failed = logs.c.status_code >= 500
    return [
        func.sum(case((inside, 1), else_=0)).label(f"{label}_requests"),
        func.sum(case((and_(inside, failed), 1), else_=0)).label(f"{label}_failures"),
        func.avg(case((and_(inside, ~failed), logs.c.latency_ms), else_=None)).label(f"{label}_latency"),
    ]


def _window(row, label: str) -> Window:
    latency = getattr(row, f"{label}_latency")
    return Window(int(getattr(row, f"{label}_requests") or 0), int(getattr(row, f"{label}_failures") or 0),
                  None if latency is None else int(round(float(latency))))


def _grouped(column, now: datetime, recent_minutes: int) -> dict[str, Health]:
    week_start = now - timedelta(days=7)
    columns = [*_window_columns(now - timedelta(minutes=recent_minutes), "recent"),
               *_window_columns(now - timedelta(hours=24), "day"), *_window_columns(week_start, "week")]
    query = (select(column.label("name"), *columns)
             .where(_counted(), column.is_not(None), logs.c.created_at >= week_start, logs.c.created_at <= now)
             .group_by(column))
    return {row.name: Health(_window(row, "recent"), _window(row, "day"), _window(row, "week"))
            for row in db.session.execute(query)}


def _hourly(now: datetime, hour_starts: list[datetime]) -> dict[str, list[Window]]:
    hour = hour_of(logs.c.created_at, db.engine.dialect.name)
    failed = logs.c.status_code >= 500
    query = (select(logs.c.provider, hour.label("hour"), func.count().label("requests"),
                    func.sum(case((failed, 1), else_=0)).label("failures"),
                    func.avg(case((~failed, logs.c.latency_ms), else_=None)).label("latency"))
             .where(_counted(), logs.c.created_at >= hour_starts[0], logs.c.created_at <= now)
             .group_by(logs.c.provider, hour))
    slots = {start.strftime("%Y-%m-%d %H"): i for i, start in enumerate(hour_starts)}
    hourly: dict[str, list[Window]] = {}
    for row in db.session.execute(query):
        index = slots.get(row.hour)
        if index is None:
            continue
        bars = hourly.setdefault(row.provider, [Window() for _ in hour_starts])
        bars[index] = Window(int(row.requests), int(row.failures or 0),
                             None if row.latency is None else int(round(float(row.latency))))
    return hourly


def service_health(recent_minutes: int = 60, now: datetime | None = None) -> Report:
    now = now or utcnow()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    hour_starts = [this_hour - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    with unit_of_work(writes=False):  # /v1/status reads this too: its read ends here, not at teardown
        providers = _grouped(logs.c.provider, now, recent_minutes)
        for provider, bars in _hourly(now, hour_starts).items():
            providers.setdefault(provider, Health()).hours = bars
        models = _grouped(logs.c.model_id, now, recent_minutes)
    return Report(now, recent_minutes, providers, models, hour_starts)


class HealthCache:
    """One report per process for CACHE_SECONDS: readers between refreshes share it."""

    def __init__(self, seconds: float = CACHE_SECONDS, clock=time.monotonic):
        self.seconds, self.clock = seconds, clock
        self._lock = threading.Lock()
        self._report: Report | None = None
        self._at = 0.0
        self._minutes: int | None = None

    def get(self, recent_minutes: int) -> Report:
        with self._lock:
            fresh = self._report is not None and self.clock() - self._at < self.seconds
            if fresh and self._minutes == recent_minutes:
                return self._report
        report = service_health(recent_minutes)
        with self._lock:
            self._report, self._at, self._minutes = report, self.clock(), recent_minutes
        return report

    def clear(self) -> None:
        with self._lock:
            self._report = None
