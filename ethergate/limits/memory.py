"""Sliding-window limits kept in this process (see the package docstring for the semantics)."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

WINDOW_SECONDS = 60.0
SWEEP_EVERY_SECONDS = 60.0
MAX_KEYS = 100_000


@dataclass(frozen=True)
class LimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    retry_after: float


def refused_outright(limit: int) -> LimitResult:
    return LimitResult(allowed=False, limit=max(limit, 0), remaining=0, reset_seconds=WINDOW_SECONDS,
                       retry_after=WINDOW_SECONDS)


class _TokenLog:
    __slots__ = ("entries", "total")

    def __init__(self):
        self.entries: deque[tuple[float, int]] = deque()
        self.total = 0

    def trim(self, now: float) -> None:
        edge = now - WINDOW_SECONDS
        while self.entries and self.entries[0][0] <= edge:
            self.total -= self.entries.popleft()[1]


class MemoryLimiter:
    """Per-process windows, one deque per key; safe across threads and greenlets.

    The default clock is monotonic; tests pass `now` to drive time. Keys idle for a whole window are
    dropped, so memory follows the number of recently active keys.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS):
        self.clock = clock
        self.max_keys = max_keys
        self._requests: dict[str, deque[float]] = {}
        self._tokens: dict[str, _TokenLog] = {}
        self._lock = threading.Lock()
        self._next_sweep: float | None = None

    def hit(self, key_id: str, limit: int, now: float | None = None) -> LimitResult:
        """Counts one request against `limit` per rolling minute, unless it is refused."""
        if limit < 1:
            return refused_outright(limit)
        now = self.clock() if now is None else now
        key_id = str(key_id)
        with self._lock:
            self._sweep(now)
            log = self._requests.get(key_id)
            if log is None:
                log = self._requests[key_id] = deque()
            edge = now - WINDOW_SECONDS
            while log and log[0] <= edge:
                log.popleft()
            count = len(log)
            if count < limit:
                log.append(now)
                return LimitResult(allowed=True, limit=limit, remaining=limit - count - 1,
                                   reset_seconds=log[-1] + WINDOW_SECONDS - now, retry_after=0.0)
            # When the limit was lowered the window can hold more than `limit`; the extra ones must leave too.
            return LimitResult(allowed=False, limit=limit, remaining=0,
                               reset_seconds=log[-1] + WINDOW_SECONDS - now,
                               retry_after=log[count - limit] + WINDOW_SECONDS - now)

    def check_tokens(self, key_id: str, tpm_limit: int, needed_tokens: int, now: float | None = None) -> LimitResult:
        """Whether `needed_tokens` fit in the rolling minute; records nothing (see `record_tokens`).

        A request that alone needs more than the limit is allowed only when the window is empty.
        """
        if tpm_limit < 1:
            return refused_outright(tpm_limit)
        now = self.clock() if now is None else now
        needed = min(max(int(needed_tokens), 0), tpm_limit)
        with self._lock:
            self._sweep(now)
            log = self._tokens.get(str(key_id))
            if log is None:
                return LimitResult(allowed=True, limit=tpm_limit, remaining=tpm_limit - needed, reset_seconds=0.0,
                                   retry_after=0.0)
            log.trim(now)
            return tokens_result(tpm_limit, needed, log.total, list(log.entries), now)

    def record_tokens(self, key_id: str, tokens: int, now: float | None = None) -> None:
        tokens = int(tokens)
        if tokens <= 0:
            return
        now = self.clock() if now is None else now
        key_id = str(key_id)
        with self._lock:
            self._sweep(now)
            log = self._tokens.get(key_id)
            if log is None:
                log = self._tokens[key_id] = _TokenLog()
            log.trim(now)
            log.entries.append((now, tokens))
            log.total += tokens

    def key_count(self) -> int:
        return len(self._requests) + len(self._tokens)

    def _sweep(self, now: float) -> None:
        crowded = len(self._requests) + len(self._tokens) > self.max_keys
        if not crowded and self._next_sweep is not None and now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY_SECONDS
        edge = now - WINDOW_SECONDS
        for key_id in [k for k, log in self._requests.items() if not log or log[-1] <= edge]:
            del self._requests[key_id]
        for key_id in [k for k, log in self._tokens.items() if not log.entries or log.entries[-1][0] <= edge]:
            del self._tokens[key_id]
        if len(self._requests) + len(self._tokens) > self.max_keys:
            # Still crowded with active keys: forget the oldest-created windows rather than grow without bound.
            for table in (self._requests, self._tokens):
                while len(table) > self.max_keys // 2:
                    del table[next(iter(table))]


def tokens_result(tpm_limit: int, needed: int, used: int, entries: list[tuple[float, int]], now: float) -> LimitResult:
    """The token decision from the window's entries, oldest first; shared with the Redis backend."""
    reset = entries[-1][0] + WINDOW_SECONDS - now if entries else 0.0
    if used + needed <= tpm_limit:
        return LimitResult(allowed=True, limit=tpm_limit, remaining=tpm_limit - used - needed,
                           reset_seconds=reset, retry_after=0.0)
    retry = reset
    freed = 0
    for moment, tokens in entries:
        freed += tokens
        if used - freed + needed <= tpm_limit:
            retry = moment + WINDOW_SECONDS - now
            break
    return LimitResult(allowed=False, limit=tpm_limit, remaining=max(tpm_limit - used, 0), reset_seconds=reset,
                       retry_after=retry)
