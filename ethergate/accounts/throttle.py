"""Sign-in throttling: failed sign-ins counted per email and per client IP in a sliding window.

The same counters cover the two-factor step (a wrong code counts as a failed sign-in) and the Credits
page's redemption codes; password-reset requests have their own (`reset_throttle`).
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable, Protocol

from flask import Flask, current_app


def init_app(app: Flask) -> None:
    store = MemoryAttemptStore()
    if app.config.get("REDIS_URL"):
        from .throttle_store import RedisAttemptStore
        store = RedisAttemptStore(app.config["REDIS_URL"], fallback=store)
    app.extensions["ethergate.login_throttle"] = LoginThrottle(
        store, per_email=app.config.get("LOGIN_FAILURES_PER_EMAIL", 5),
        per_ip=app.config.get("LOGIN_FAILURES_PER_IP", 20),
        window=app.config.get("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60))
    # Password-reset requests count every request (each may send an email), apart from sign-in failures.
    app.extensions["ethergate.reset_throttle"] = LoginThrottle(
        PrefixedStore(store, "reset:"), per_email=app.config.get("RESET_REQUESTS_PER_EMAIL", 3),
        per_ip=app.config.get("RESET_REQUESTS_PER_IP", 20),
        window=app.config.get("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60))


class AttemptStore(Protocol):
    """Where failed attempts are counted: per process, or in Redis (accounts/throttle_store.py) when configured."""

    def recent(self, key: str, window: float) -> tuple[int, float]:
        """(failures in the last `window` seconds, seconds until the oldest of them leaves the window)."""

    def add(self, key: str, window: float) -> None:
        """Record one failure now."""

    def clear(self, key: str) -> None:
        """Forget every failure of `key`."""


class MemoryAttemptStore:
    """Per-process sliding windows: the store without Redis, and the fallback while Redis is down."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.clock = clock
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: str, window: float, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - window:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def recent(self, key: str, window: float) -> tuple[int, float]:
        with self._lock:
            now = self.clock()
            events = self._trim(key, window, now)
            if not events:
                return 0, 0.0
            return len(events), events[0] + window - now

    def add(self, key: str, window: float) -> None:
        with self._lock:
            now = self.clock()
            if key not in self._events and len(self._events) >= self.max_keys:
                # A flood of distinct keys: drop the stalest rather than grow without bound.
                for stale in list(self._events)[: self.max_keys // 10 or 1]:
                    del self._events[stale]
            events = self._trim(key, window, now) or self._events.setdefault(key, deque())
            events.append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


class PrefixedStore:
    """Another set of counters in the same store."""

    def __init__(self, store: AttemptStore, prefix: str):
        self.store, self.prefix = store, prefix

    def recent(self, key: str, window: float) -> tuple[int, float]:
        return self.store.recent(self.prefix + key, window)

    def add(self, key: str, window: float) -> None:
        self.store.add(self.prefix + key, window)

    def clear(self, key: str) -> None:
        self.store.clear(self.prefix + key)


class LoginThrottle:
    """At most `per_email` failed sign-ins per email and `per_ip` per client IP in a sliding window.

    Once a limit is reached every attempt is refused, even with the right password, until the oldest
    failure leaves the window; refused attempts are not counted, so the wait never grows. A successful
    sign-in clears the email's count (not the IP's: one right password must not reset a spray).
    """

    def __init__(self, store: AttemptStore, per_email: int = 5, per_ip: int = 20, window: float = 15 * 60):
        self.store, self.per_email, self.per_ip, self.window = store, per_email, per_ip, window

    def retry_after(self, email: str, ip: str | None) -> float:
        """0 when an attempt may proceed, else the seconds to wait."""
        waits = [0.0]
        for key, limit in self._keys(email, ip):
            count, wait = self.store.recent(key, self.window)
            if count >= limit:
                waits.append(wait)
        return max(waits)

    def failed(self, email: str, ip: str | None) -> None:
        for key, _limit in self._keys(email, ip):
            self.store.add(key, self.window)

    def succeeded(self, email: str) -> None:
        self.store.clear("email:" + email)

    def _keys(self, email: str, ip: str | None) -> list[tuple[str, int]]:
        keys = [("email:" + email, self.per_email)]
        if ip:
            keys.append(("ip:" + ip, self.per_ip))
        return keys


def login_throttle() -> LoginThrottle:
    return current_app.extensions["ethergate.login_throttle"]


def reset_throttle() -> LoginThrottle:
    return current_app.extensions["ethergate.reset_throttle"]


def minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))
