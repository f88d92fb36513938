"""The limiter the gateway uses: Redis when configured, this process's memory otherwise or as a fallback.

When Redis fails (refused, timed out, any error) the failure mode decides:
- "open" (default): the call is answered by a per-process MemoryLimiter, so keys are still limited, but
  per process; a warning is logged at most every 30 s.
- "closed": the call raises LimiterUnavailable, which the gateway turns into 503 rate_limiter_unavailable.
Redis is tried again after a short back-off and the limiter recovers by itself. Nothing but
LimiterUnavailable is ever raised; `record_tokens` never raises, since the request has already been served.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Callable

from flask import Flask

from .memory import LimitResult, MemoryLimiter
from .redis_backend import RedisLimiter

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
WARN_EVERY_SECONDS = 30.0
EXTENSION_KEY = "ethergate.limiter"


class LimiterUnavailable(RuntimeError):
    """Redis is down and the failure mode is "closed"."""


class Limiter:
    def __init__(self, redis_url: str | None = None, failure_mode: str = "open", *,
                 retry_seconds: float = RETRY_SECONDS, warn_every_seconds: float = WARN_EVERY_SECONDS,
                 redis_options: dict | None = None, clock: Callable[[], float] = time.monotonic):
        if failure_mode not in ("open", "closed"):
            raise ValueError(f"failure mode must be open or closed, got {failure_mode!r}")
        self.mode = failure_mode
        self.retry_seconds = retry_seconds
        self.warn_every_seconds = warn_every_seconds
        self.clock = clock  # times the back-off and the warnings; tests pass one they can move forward
        self.memory = MemoryLimiter()
        self.redis = RedisLimiter(redis_url, **(redis_options or {})) if redis_url else None
        self._lock = threading.Lock()
        self._degraded_since: datetime | None = None
        self._last_error: str | None = None
        self._next_attempt = 0.0
        self._last_warning: float | None = None

    def hit(self, key_id: str, limit: int) -> LimitResult:
        """Counts one request of `key_id` against `limit` requests per rolling minute."""
        return self._call("hit", (key_id, limit))

    def check_tokens(self, key_id: str, tpm_limit: int, needed_tokens: int) -> LimitResult:
        return self._call("check_tokens", (key_id, tpm_limit, needed_tokens))

    def record_tokens(self, key_id: str, tokens: int) -> None:
        try:
            self._call("record_tokens", (key_id, tokens), must_answer=False)
        except Exception:
            log.exception("rate limiter: could not record %s tokens for key %s", tokens, key_id)

    def status(self) -> dict:
        """For /status; checks Redis when a check is due, within its short timeout."""
        if self.redis is not None and self._attempt_due():
            try:
                self.redis.ping()
            except Exception as exc:
                self._mark_down(exc)
            else:
                self._mark_up()
        with self._lock:
            healthy = self._degraded_since is None
            return {
                "backend": "redis" if self.redis is not None else "memory",
                "healthy": healthy,
                "mode": self.mode,
                "degraded_since": self._degraded_since.isoformat(timespec="seconds") if self._degraded_since else None,
                "last_error": self._last_error,
                "scope": "global" if self.redis is not None and (healthy or self.mode == "closed") else "per-process",
            }

    def close(self) -> None:
        if self.redis is not None:
            self.redis.close()

    def _call(self, name: str, args: tuple, must_answer: bool = True):
        if self.redis is not None and self._attempt_due():
            try:
                result = getattr(self.redis, name)(*args)
            except Exception as exc:
                self._mark_down(exc)
            else:
                self._mark_up()
                return result
        if self.redis is not None:
            self._warn_degraded()
            if self.mode == "closed" and must_answer:
                raise LimiterUnavailable(f"rate limiter unavailable: {self._last_error}")
        try:
            return getattr(self.memory, name)(*args)
        except Exception as exc:
            log.exception("rate limiter: in-process %s failed", name)
            raise LimiterUnavailable(f"rate limiter failed: {exc}") from exc

    def _attempt_due(self) -> bool:
        """True when Redis is healthy, or when it is degraded and this caller should probe it now."""
        with self._lock:
            if self._degraded_since is None:
                return True
            clock = self.clock()
            if clock < self._next_attempt:
                return False
            # Only one caller probes per back-off; the others keep using the fallback meanwhile.
            self._next_attempt = clock + self.retry_seconds
            return True

    def _mark_down(self, exc: Exception) -> None:
        with self._lock:
            if self._degraded_since is None:
                self._degraded_since = datetime.now(timezone.utc)
                self._last_warning = None
            self._last_error = f"{type(exc).__name__}: {exc}"
            self._next_attempt = self.clock() + self.retry_seconds

    def _mark_up(self) -> None:
        with self._lock:
            if self._degraded_since is None:
                return
            since, self._degraded_since, self._last_error = self._degraded_since, None, None
        log.warning("rate limiter: Redis is back after %.1f s; limits are global again",
                    (datetime.now(timezone.utc) - since).total_seconds())

    def _warn_degraded(self) -> None:
        with self._lock:
            if self._degraded_since is None:
                return
            clock = self.clock()
            if self._last_warning is not None and clock - self._last_warning < self.warn_every_seconds:
                return
            self._last_warning = clock
            since, error = self._degraded_since, self._last_error
        consequence = ("refusing requests with 503 (failure mode closed)" if self.mode == "closed"
                       else "limiting each process on its own (failure mode open)")
        log.warning("rate limiter: Redis unavailable since %s (%s); %s",
                    since.isoformat(timespec="seconds"), error, consequence)


_create_lock = threading.Lock()


def get_limiter(app: Flask) -> Limiter:
    """The app's limiter, made on first use so each worker process builds its own after the fork."""
    limiter = app.extensions.get(EXTENSION_KEY)
    if limiter is None:
        with _create_lock:
            limiter = app.extensions.get(EXTENSION_KEY)
            if limiter is None:
                limiter = Limiter(app.config.get("REDIS_URL"), app.config.get("RATE_LIMIT_FAILURE_MODE", "open"),
                                  retry_seconds=float(app.config.get("RATE_LIMIT_RETRY_SECONDS", RETRY_SECONDS)))
                if limiter.redis is None:
                    log.info("rate limiter: no ETHERGATE_REDIS_URL; limits are kept per process")
                app.extensions[EXTENSION_KEY] = limiter
    return limiter
