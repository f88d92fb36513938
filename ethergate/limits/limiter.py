"""The limiter the gateway uses: Redis when configured, this process's memory otherwise or as a fallback.

When Redis fails (refused, timed out, any error) the failure mode decides:
- "open" (default): the call is answered by a per-process MemoryLimiter, so keys are still limited, but
  per process; a warning is logged at most every 30 s.
- "closed": the call raises LimiterUnavailable, which the gateway turns into 503 rate_limiter_unavailable.
Redis is tried again after a short back-off and the limiter recovers by itself. Nothing but
LimiterUnavailable is ever raised; `record_tokens` never raises, since the request has already been served.

With Redis, requests of high-limit keys are admitted from per-process leases (`leases.py`) and token use
is written in batches (`token_batch.py`); a background upkeep (a greenlet under gevent) gives back the
unused slots of ended leases and writes the batches every ~0.2 s, and stops when there is nothing to do.
When Redis fails mid-lease, the slots this process already holds keep admitting requests (Redis granted
them) until a call to Redis fails; from then on the failure mode applies as above and the held slots are
left to leave the window by themselves.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from datetime import datetime, timezone
from typing import Callable

from flask import Flask

from .leases import RequestLeases
from .memory import LimitResult, MemoryLimiter
from .redis_backend import RedisLimiter
from .token_batch import TokenBatch

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
WARN_EVERY_SECONDS = 30.0
LEASE_SECONDS = 1.0
LEASE_PERCENT = 2.0
UPKEEP_SECONDS = 0.2
IDLE_UPKEEPS_BEFORE_STOP = 10
EXTENSION_KEY = "ethergate.limiter"


class LimiterUnavailable(RuntimeError):
    """Redis is down and the failure mode is "closed"."""


class Limiter:
    def __init__(self, redis_url: str | None = None, failure_mode: str = "open", *,
                 retry_seconds: float = RETRY_SECONDS, warn_every_seconds: float = WARN_EVERY_SECONDS,
                 redis_options: dict | None = None, clock: Callable[[], float] = time.monotonic,
                 lease_seconds: float = LEASE_SECONDS, lease_percent: float = LEASE_PERCENT):
        if failure_mode not in ("open", "closed"):
            raise ValueError(f"failure mode must be open or closed, got {failure_mode!r}")
        self.mode = failure_mode
        self.retry_seconds = retry_seconds
        self.warn_every_seconds = warn_every_seconds
        self.clock = clock  # times the back-off and the warnings; tests pass one they can move forward
        self.memory = MemoryLimiter()
        self.redis = RedisLimiter(redis_url, **(redis_options or {})) if redis_url else None
        leasing = self.redis is not None and lease_seconds > 0 and lease_percent > 0
        self.leases = RequestLeases(self.redis, lease_seconds, lease_percent) if leasing else None
        self.tokens = TokenBatch() if self.redis is not None else None
        self._shared = {"hit": self.leases.hit if self.leases else getattr(self.redis, "hit", None),
                        "check_tokens": self._check_shared_tokens,
                        "record_tokens": getattr(self.redis, "record_tokens", None)}
        self._lock = threading.Lock()
        self._degraded_since: datetime | None = None
        self._last_error: str | None = None
        self._next_attempt = 0.0
        self._last_warning: float | None = None
        self._upkeep_running = False
        self._closed = threading.Event()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (limiter := ref()) is not None and limiter._forget_threads())

    def hit(self, key_id: str, limit: int) -> LimitResult:
        """Counts one request of `key_id` against `limit` requests per rolling minute."""
        result = self._call("hit", (key_id, limit))
        if self.leases is not None and self.leases.slots_for(limit) > 1:
            self._ensure_upkeep()
        return result

    def check_tokens(self, key_id: str, tpm_limit: int, needed_tokens: int) -> LimitResult:
        return self._call("check_tokens", (key_id, tpm_limit, needed_tokens))

    def record_tokens(self, key_id: str, tokens: int) -> None:
        try:
            if self.tokens is not None and self._degraded_since is None and int(tokens) > 0:
                if self.tokens.add(key_id, int(tokens)):
                    self.settle()
                self._ensure_upkeep()
                return
            self._call("record_tokens", (key_id, tokens), must_answer=False)
        except Exception:
            log.exception("rate limiter: could not record %s tokens for key %s", tokens, key_id)

    def settle(self, everything: bool = False) -> bool:
        """Gives back the unused slots of ended leases (all leases with `everything`) and writes batched token
        use, in one round trip; False when there was nothing to do."""
        returned = self.leases.take_ended(everything) if self.leases is not None else []
        tokens = self.tokens.take() if self.tokens is not None else {}
        if not returned and not tokens:
            return False
        written = False
        if self._attempt_due():
            try:
                self.redis.settle(returned, tokens)
            except Exception as exc:
                self._mark_down(exc)
            else:
                self._mark_up()
                written = True
        if not written:
            # Slots not given back leave the window by themselves; the tokens go to the fallback window.
            for key_id, count in tokens.items():
                self.memory.record_tokens(key_id, count)
        if self.tokens is not None:
            self.tokens.written(tokens)
        return True

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
        self._closed.set()
        if self.redis is not None:
            self.settle(everything=True)
            self.redis.close()

    def _check_shared_tokens(self, key_id: str, tpm_limit: int, needed_tokens: int) -> LimitResult:
        return self.redis.check_tokens(key_id, tpm_limit, needed_tokens, unrecorded=self.tokens.unrecorded(key_id))

    def _ensure_upkeep(self) -> None:
        if self._upkeep_running or self._closed.is_set():
            return
        with self._lock:
            if self._upkeep_running:
                return
            self._upkeep_running = True
        threading.Thread(target=self._upkeep, name="ethergate-limiter-upkeep", daemon=True).start()

    def _upkeep(self) -> None:
        idle = 0
        while not self._closed.wait(UPKEEP_SECONDS):
            try:
                idle = 0 if self.settle() else idle + 1
            except Exception:
                log.exception("rate limiter: upkeep failed")
            if idle >= IDLE_UPKEEPS_BEFORE_STOP:
                with self._lock:
                    # Stops only with nothing left to give back or write; the next lease or record starts it again.
                    if not (self.leases and self.leases.live()) and not self.tokens.waiting():
                        self._upkeep_running = False
                        return
        with self._lock:
            self._upkeep_running = False

    def _forget_threads(self) -> None:
        """In a forked child: the parent's upkeep thread did not come along."""
        closed, self._closed = self._closed.is_set(), threading.Event()
        if closed:
            self._closed.set()
        self._lock = threading.Lock()
        self._upkeep_running = False

    def _call(self, name: str, args: tuple, must_answer: bool = True):
        if self.redis is not None and self._attempt_due():
            try:
                result = self._shared[name](*args)
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
                                  retry_seconds=float(app.config.get("RATE_LIMIT_RETRY_SECONDS", RETRY_SECONDS)),
                                  lease_seconds=float(app.config.get("RATE_LIMIT_LEASE_SECONDS", LEASE_SECONDS)),
                                  lease_percent=float(app.config.get("RATE_LIMIT_LEASE_PERCENT", LEASE_PERCENT)))
                if limiter.redis is None:
                    log.info("rate limiter: no ETHERGATE_REDIS_URL; limits are kept per process")
                app.extensions[EXTENSION_KEY] = limiter
    return limiter


def close_limiter(app: Flask) -> None:
    """On shutdown: gives back this process's unused leased slots and writes its batched token use."""
    limiter = app.extensions.pop(EXTENSION_KEY, None)
    if limiter is None:
        return
    try:
        limiter.close()
    except Exception:
        log.exception("rate limiter: could not settle with Redis on shutdown")
