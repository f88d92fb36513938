"""Per-route health and a circuit breaker: skip a failing route for a cool-down."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

WINDOW = 50               # recent outcomes kept per route
OPEN_AFTER_FAILURES = 5   # consecutive failures that open the breaker
COOL_DOWN_SECONDS = 30.0


@dataclass
class RouteHealth:
    outcomes: deque = field(default_factory=lambda: deque(maxlen=WINDOW))  # (ok, latency_ms, at)
    consecutive_failures: int = 0
    open_until: float = 0.0
    trial_until: float = 0.0  # a half-open trial owns the route until it reports or this passes
    last_error: str | None = None
    last_error_at: float | None = None

    def snapshot(self, now: float) -> dict:
        total = len(self.outcomes)
        ok = sum(1 for outcome in self.outcomes if outcome[0])
        latencies = sorted(outcome[1] for outcome in self.outcomes if outcome[0])
        return {
            "recent_requests": total,
            "success_rate": round(ok / total, 4) if total else None,
            "latency_ms_p50": latencies[len(latencies) // 2] if latencies else None,
            "circuit": "open" if self.open_until > now else "closed",
            "last_error": self.last_error,
            "last_error_age_seconds": round(now - self.last_error_at, 1) if self.last_error_at else None,
        }


class HealthBoard:
    """Process-local health of every (provider, upstream model) route."""

    def __init__(self, clock=time.monotonic):
        self._routes: dict[tuple[str, str], RouteHealth] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _get(self, key: tuple[str, str]) -> RouteHealth:
        health = self._routes.get(key)
        if health is None:
            with self._lock:
                health = self._routes.setdefault(key, RouteHealth())
        return health

    def allow(self, provider: str, upstream_model: str) -> bool:
        """False while the breaker is open; after the cool-down one trial request goes through."""
        health = self._get((provider, upstream_model))
        if health.open_until == 0.0:
            return True
        now = self._clock()
        if now < health.open_until or now < health.trial_until:
            return False
        health.trial_until = now + COOL_DOWN_SECONDS
        return True

    def record(self, provider: str, upstream_model: str, ok: bool, latency_ms: int, error: str | None = None):
        health = self._get((provider, upstream_model))
        now = self._clock()
        health.outcomes.append((ok, latency_ms, now))
        health.trial_until = 0.0
        if ok:
            health.consecutive_failures = 0
            health.open_until = 0.0
            return
        health.consecutive_failures += 1
        health.last_error, health.last_error_at = error, now
        if health.consecutive_failures >= OPEN_AFTER_FAILURES or health.open_until:
            health.open_until = now + COOL_DOWN_SECONDS

    def route_status(self) -> dict[tuple[str, str], dict]:
        now = self._clock()
        return {key: health.snapshot(now) for key, health in list(self._routes.items())}

    def provider_status(self, provider: str) -> dict:
        now = self._clock()
        routes = [h for (p, _m), h in list(self._routes.items()) if p == provider]
        outcomes = [o for h in routes for o in h.outcomes]
        latencies = sorted(o[1] for o in outcomes if o[0])
        errors = [(h.last_error_at, h.last_error) for h in routes if h.last_error_at]
        last = max(errors) if errors else None
        return {
            "recent_requests": len(outcomes),
            "success_rate": round(sum(1 for o in outcomes if o[0]) / len(outcomes), 4) if outcomes else None,
            "latency_ms_p50": latencies[len(latencies) // 2] if latencies else None,
            "open_circuits": sum(1 for h in routes if h.open_until > now),
            "last_error": last[1] if last else None,
            "last_error_age_seconds": round(now - last[0], 1) if last else None,
        }
