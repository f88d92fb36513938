"""Request-slot leases: a process takes several of a key's request slots from Redis in one round trip and
admits the key's next requests from them locally.

A lease is one Lua call that gives back what the key's previous lease left unused, then adds up to N
slots to the key's shared window, granting only as many as fit under the limit. The request that asked
uses the first slot at once; the others serve this process's next requests of the key for
`lease_seconds` (1 s by default) or until used up. Slots still unused when the lease ends are removed
from the window again (by the next lease of the key, or by the limiter's upkeep within ~0.2 s), so other
processes are not starved for longer than that.

The global guarantee holds exactly: a leased slot counts in the window from the moment it is leased
until 60 s after the lease ends, so whenever this process admits a request from it, the slot covers the
60 s that follow. Across all processes a key never has more than `limit` requests admitted in any
rolling 60 s window. The cost is the other way round (over-counting, never under-counting):
- slots leased but not yet used count against every process, at most `lease_percent` % of the limit per
  process (and never more than 256), for at most `lease_seconds` plus the ~0.2 s until they are given back;
- a used slot stays in the window up to `lease_seconds` longer than the request it admitted, so
  `X-RateLimit-Reset` and `Retry-After` can read up to 60 s + `lease_seconds`.

Lease size follows the key's rate in this process: it starts at 1 slot, doubles each time a lease is used
up before it ends, and falls to the number of slots the last lease used when it ends with slots left.
Keys whose limit allows at most one slot per lease (under 100 requests per minute at 2 %) never lease:
each request is the single round trip of `RedisLimiter.hit`, exactly as without leases.

Headers from a lease are approximate in one way: `remaining` is the window's free room when the lease
was taken minus this process's use of it since (other processes' use meanwhile is not seen), and
`reset_seconds` counts down from the lease's answer. Refusals always come from Redis, so `retry_after`
is exact; requests of the key that were waiting for a lease call that came back refused share its answer.

Leases belong to one process: after a fork the child forgets its parent's leases (the parent gives them
back) and takes its own.
"""
from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Callable

from .memory import WINDOW_SECONDS, LimitResult
from .redis_backend import RedisLimiter

MAX_LEASE_SLOTS = 256
FETCH_WAIT_SECONDS = 5.0


class Lease:
    """Slots of one key this process took from Redis; the first went to the request that asked."""

    __slots__ = ("limit", "wanted", "granted", "used", "expires", "remaining", "reset_at", "spare_slots")

    def __init__(self, limit: int, wanted: int, granted: int, expires: float, remaining: int, reset_at: float,
                 spare_slots: list[str]):
        self.limit, self.wanted, self.granted, self.used = limit, wanted, granted, 1
        self.expires, self.remaining, self.reset_at, self.spare_slots = expires, remaining, reset_at, spare_slots

    def usable(self, limit: int, now: float) -> bool:
        return self.limit == limit and self.used < self.granted and now < self.expires

    def take(self, now: float) -> LimitResult:
        self.used += 1
        return self.result(now)

    def result(self, now: float) -> LimitResult:
        return LimitResult(allowed=True, limit=self.limit, remaining=self.remaining + self.granted - self.used,
                           reset_seconds=max(self.reset_at - now, 0.0), retry_after=0.0)

    def unused(self) -> list[str]:
        return self.spare_slots[self.used - 1:]


class _Fetch:
    """One lease call in flight for a key; the key's other requests wait for it instead of asking too."""

    __slots__ = ("limit", "done", "error", "refusal")

    def __init__(self, limit: int):
        self.limit = limit
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.refusal: LimitResult | None = None


class _KeyState:
    __slots__ = ("size", "lease", "fetch", "ended_at")

    def __init__(self):
        self.size = 1
        self.lease: Lease | None = None
        self.fetch: _Fetch | None = None
        self.ended_at = 0.0


class RequestLeases:
    """This process's leases, one per key at most; safe across threads and greenlets."""

    def __init__(self, redis: RedisLimiter, lease_seconds: float = 1.0, lease_percent: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.redis = redis
        self.lease_seconds = lease_seconds
        self.lease_percent = lease_percent
        self.clock = clock
        self._keys: dict[str, _KeyState] = {}
        self._lock = threading.Lock()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (leases := ref()) is not None and leases.forget())

    def slots_for(self, limit: int) -> int:
        """The largest lease a key with this limit may take."""
        return min(MAX_LEASE_SLOTS, int(limit * self.lease_percent / 100))

    def hit(self, key_id: str, limit: int) -> LimitResult:
        """Counts one request like `RedisLimiter.hit`, from this process's lease when it has one."""
        largest = self.slots_for(limit)
        if largest <= 1:
            return self.redis.hit(key_id, limit)
        while True:
            with self._lock:
                state = self._keys.get(key_id)
                if state is None:
                    state = self._keys[key_id] = _KeyState()
                now = self.clock()
                if state.lease is not None and state.lease.usable(limit, now):
                    return state.lease.take(now)
                fetch = state.fetch
                if fetch is None:
                    ended, state.lease = state.lease, None
                    give_back = ended.unused() if ended is not None else []
                    wanted = self._next_size(state, ended, now, largest)
                    fetch = state.fetch = _Fetch(limit)
                    break
            if not fetch.done.wait(FETCH_WAIT_SECONDS):
                raise TimeoutError("a rate-limit lease from Redis took too long")
            if fetch.error is not None:
                raise fetch.error
            if fetch.refusal is not None and fetch.limit == limit:
                return fetch.refusal  # the window was full when the call that this request waited for was answered
        try:
            # Expiry counts from before the call, so it falls before the Redis score of the slots (see module doc).
            asked = self.clock()
            grant = self.redis.lease(key_id, limit, wanted, self.lease_seconds, give_back)
        except BaseException as exc:
            with self._lock:
                state.fetch = None
                # Waiters share a Redis failure; a killed greenlet only makes them ask again.
                fetch.error = exc if isinstance(exc, Exception) else None
            fetch.done.set()
            raise
        with self._lock:
            state.fetch = None
            if grant.granted == 0:
                state.size = 1
                fetch.refusal = LimitResult(allowed=False, limit=limit, remaining=0,
                                            reset_seconds=grant.reset_seconds, retry_after=grant.retry_after)
            else:
                state.lease = Lease(limit, wanted, grant.granted, asked + self.lease_seconds, grant.remaining,
                                    asked + grant.reset_seconds, grant.spare_slots)
        fetch.done.set()
        if fetch.refusal is not None:
            return fetch.refusal
        return LimitResult(allowed=True, limit=limit, remaining=grant.remaining + grant.granted - 1,
                           reset_seconds=grant.reset_seconds, retry_after=0.0)

    def take_ended(self, everything: bool = False) -> list[tuple[str, list[str]]]:
        """Ends the leases whose time is up (all of them with `everything`) and says which slots to give back."""
        returned = []
        with self._lock:
            now = self.clock()
            for key_id, state in list(self._keys.items()):
                lease = state.lease
                if lease is not None and (everything or now >= lease.expires):
                    state.lease = None
                    state.size = max(1, lease.used)
                    state.ended_at = now
                    if lease.unused():
                        returned.append((key_id, lease.unused()))
                elif lease is None and state.fetch is None and now - state.ended_at > WINDOW_SECONDS:
                    del self._keys[key_id]  # idle for a minute: its observed rate is stale
        return returned

    def live(self) -> int:
        """How many keys hold a lease or are asking for one."""
        with self._lock:
            return sum(1 for state in self._keys.values() if state.lease is not None or state.fetch is not None)

    def forget(self) -> None:
        """In a forked child: the parent's leases are the parent's to use and give back."""
        self._lock = threading.Lock()
        self._keys = {}

    def _next_size(self, state: _KeyState, ended: Lease | None, now: float, largest: int) -> int:
        if ended is not None:
            used_up_early = ended.used >= ended.granted and now < ended.expires
            state.size = ended.wanted * 2 if used_up_early else max(1, ended.used)
            state.ended_at = now
        state.size = min(state.size, largest)
        return state.size
