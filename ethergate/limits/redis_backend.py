"""Sliding-window limits shared by every process through Redis sorted sets.

Each key has one sorted set of requests and one of token use, scored by time in microseconds. One Lua
script per operation trims, counts and adds atomically, reading the Redis server's clock so gateways on
different hosts agree on the window. Timeouts are short so an unreachable Redis fails within a fraction
of a second and the caller can fall back (see `limiter.py`).
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from .memory import WINDOW_SECONDS, LimitResult, refused_outright

MICROS = 1_000_000
WINDOW_MICROS = int(WINDOW_SECONDS * MICROS)
# Keep a set a little longer than the window so a slow clock never drops live entries.
EXPIRE_MILLIS = int(WINDOW_SECONDS * 1000) + 1000

# The time comes from Redis TIME unless the caller passes one (tests only).
CLOCK_LUA = """
local now
if ARGV[#ARGV] ~= '' then
  now = tonumber(ARGV[#ARGV])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
"""

# KEYS[1] request log; ARGV: limit, window (us), expiry (ms), unique suffix, time override or ''.
HIT_LUA = CLOCK_LUA + """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, string.format('%d', now) .. '-' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return {1, limit - count - 1, window, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {0, 0, tonumber(newest[2]) + window - now, tonumber(oldest[2]) + window - now}
"""

# KEYS[1] request log; ARGV: limit, wanted, window (us), expiry (ms), hold (us), slot name prefix,
# how many slots to give back first, their names..., time override or ''. The first slot is used at once and
# scored now; the others are scored `hold` ahead, so each counts until 60 s after the lease could use it.
LEASE_LUA = CLOCK_LUA + """
local limit = tonumber(ARGV[1])
local wanted = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local hold = tonumber(ARGV[5])
local returned = tonumber(ARGV[7])
if returned > 0 then
  redis.call('ZREM', KEYS[1], unpack(ARGV, 8, 7 + returned))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local granted = math.min(wanted, limit - count)
if granted > 0 then
  local slots = {now, ARGV[6] .. '1'}
  for i = 2, granted do
    slots[#slots + 1] = now + hold
    slots[#slots + 1] = ARGV[6] .. i
  end
  redis.call('ZADD', KEYS[1], unpack(slots))
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  return {granted, limit - count - granted, tonumber(newest[2]) + window - now, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {0, 0, tonumber(newest[2]) + window - now, tonumber(oldest[2]) + window - now}
"""

# KEYS[1] token log, members "<time>-<random>:<tokens>"; ARGV: limit, needed, window (us), time override or ''.
CHECK_TOKENS_LUA = CLOCK_LUA + """
local limit = tonumber(ARGV[1])
local needed = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #entries, 2 do
  used = used + tonumber(string.match(entries[i], ':(%d+)$'))
end
local reset = 0
if #entries > 0 then
  reset = tonumber(entries[#entries]) + window - now
end
if used + needed <= limit then
  return {1, limit - used - needed, reset, 0}
end
local retry = reset
local freed = 0
for i = 1, #entries, 2 do
  freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
  if used - freed + needed <= limit then
    retry = tonumber(entries[i + 1]) + window - now
    break
  end
end
local remaining = limit - used
if remaining < 0 then remaining = 0 end
return {0, remaining, reset, retry}
"""

# KEYS[1] token log; ARGV: tokens, window (us), expiry (ms), unique suffix, time override or ''.
RECORD_TOKENS_LUA = CLOCK_LUA + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], now, string.format('%d', now) .. '-' .. ARGV[4] .. ':' .. ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


class _Script:
    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()


HIT = _Script(HIT_LUA)
LEASE = _Script(LEASE_LUA)
CHECK_TOKENS = _Script(CHECK_TOKENS_LUA)
RECORD_TOKENS = _Script(RECORD_TOKENS_LUA)


@dataclass(frozen=True)
class LeaseGrant:
    """What one lease call got: `granted` slots (the first used at once) and the window as it stood."""
    granted: int
    remaining: int
    reset_seconds: float
    retry_after: float
    spare_slots: list[str]  # the Redis members of slots 2..granted, to give back the ones left unused


def _override(now: float | None) -> str:
    return "" if now is None else str(int(round(now * MICROS)))


def _seconds(micros) -> float:
    return max(int(micros), 0) / MICROS


class RedisLimiter:
    """Raises redis errors as they come; the `Limiter` facade decides what a failure means."""

    def __init__(self, url: str, *, connect_timeout: float = 0.3, socket_timeout: float = 0.3,
                 max_connections: int = 64, namespace: str = "eg:rl:", **pool_options):
        # One immediate retry replaces a pooled connection that died with a Redis restart.
        pool = redis.BlockingConnectionPool.from_url(
            url, socket_connect_timeout=connect_timeout, socket_timeout=socket_timeout,
            max_connections=max_connections, timeout=socket_timeout, retry=Retry(NoBackoff(), 1),
            health_check_interval=30, **pool_options)
        self.client = redis.Redis(connection_pool=pool)
        self.namespace = namespace

    def hit(self, key_id: str, limit: int, now: float | None = None) -> LimitResult:
        if limit < 1:
            return refused_outright(limit)
        allowed, remaining, reset, retry = self._run(
            HIT, f"{self.namespace}req:{key_id}", limit, WINDOW_MICROS, EXPIRE_MILLIS, secrets.token_hex(8),
            _override(now))
        return LimitResult(allowed=bool(allowed), limit=limit, remaining=int(remaining),
                           reset_seconds=_seconds(reset), retry_after=_seconds(retry))

    def lease(self, key_id: str, limit: int, wanted: int, hold_seconds: float, give_back: Sequence[str] = (),
              now: float | None = None) -> LeaseGrant:
        """Takes up to `wanted` request slots that fit under `limit`, after giving back `give_back`."""
        prefix = secrets.token_hex(8) + "-"
        granted, remaining, reset, retry = self._run(
            LEASE, f"{self.namespace}req:{key_id}", limit, wanted, WINDOW_MICROS,
            EXPIRE_MILLIS + int(hold_seconds * 1000), int(hold_seconds * MICROS), prefix, len(give_back),
            *give_back, _override(now))
        return LeaseGrant(granted=int(granted), remaining=int(remaining), reset_seconds=_seconds(reset),
                          retry_after=_seconds(retry), spare_slots=[f"{prefix}{n}" for n in range(2, int(granted) + 1)])

    def settle(self, returned: list[tuple[str, list[str]]], tokens: dict[str, int]) -> None:
        """Gives back unused leased slots and records batched token use, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for key_id, names in returned:
            pipe.zrem(f"{self.namespace}req:{key_id}", *names)
        records = [(f"{self.namespace}tok:{key_id}", (count, WINDOW_MICROS, EXPIRE_MILLIS, secrets.token_hex(8), ""))
                   for key_id, count in tokens.items() if count > 0]
        for key, args in records:
            pipe.evalsha(RECORD_TOKENS.sha, 1, key, *args)
        results = pipe.execute(raise_on_error=False)
        forgotten = []
        for result, record in zip(results[len(returned):], records):
            if isinstance(result, NoScriptError):
                forgotten.append(record)
        errors = [r for r in results if isinstance(r, Exception) and not isinstance(r, NoScriptError)]
        if errors:
            raise errors[0]
        for key, args in forgotten:
            self.client.eval(RECORD_TOKENS.source, 1, key, *args)

    def check_tokens(self, key_id: str, tpm_limit: int, needed_tokens: int, now: float | None = None,
                     unrecorded: int = 0) -> LimitResult:
        """`unrecorded`: tokens this process used that are not in Redis yet; they count as already used."""
        if tpm_limit < 1:
            return refused_outright(tpm_limit)
        needed = min(max(int(needed_tokens), 0), tpm_limit) + max(int(unrecorded), 0)
        allowed, remaining, reset, retry = self._run(
            CHECK_TOKENS, f"{self.namespace}tok:{key_id}", tpm_limit, needed, WINDOW_MICROS, _override(now))
        if not allowed:
            remaining = max(int(remaining) - max(int(unrecorded), 0), 0)
        return LimitResult(allowed=bool(allowed), limit=tpm_limit, remaining=int(remaining),
                           reset_seconds=_seconds(reset), retry_after=_seconds(retry))

    def record_tokens(self, key_id: str, tokens: int, now: float | None = None) -> None:
        tokens = int(tokens)
        if tokens <= 0:
            return
        self._run(RECORD_TOKENS, f"{self.namespace}tok:{key_id}", tokens, WINDOW_MICROS, EXPIRE_MILLIS,
                  secrets.token_hex(8), _override(now))

    def ping(self) -> bool:
        return bool(self.client.ping())

    def close(self) -> None:
        self.client.close()
        self.client.connection_pool.disconnect()

    def _run(self, script: _Script, key: str, *args):
        try:
            return self.client.evalsha(script.sha, 1, key, *args)
        except NoScriptError:
            # First use on this server, or it restarted and lost its script cache.
            return self.client.eval(script.source, 1, key, *args)
