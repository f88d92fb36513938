"""Failed sign-in attempts kept in Redis, so every worker and host counts against one limit."""
from __future__ import annotations

import logging
import secrets
import time

import redis

log = logging.getLogger(__name__)


class RedisAttemptStore:
    """A sorted set of failure times per key; falls back to `fallback` (per process) while Redis is down."""

    def __init__(self, url: str, fallback, namespace: str = "eg:login:"):
        self.client = redis.Redis.from_url(url, socket_connect_timeout=0.3, socket_timeout=0.3)
        self.fallback, self.namespace = fallback, namespace

    def recent(self, key: str, window: float) -> tuple[int, float]:
        name, now = self.namespace + key, time.time()
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.zremrangebyscore(name, "-inf", now - window)
            pipe.zcard(name)
            pipe.zrange(name, 0, 0, withscores=True)
            _, count, oldest = pipe.execute()
        except redis.RedisError as exc:
            log.warning("sign-in throttle: Redis unavailable (%s); counting per process", type(exc).__name__)
            return self.fallback.recent(key, window)
        if not count:
            return 0, 0.0
        return int(count), max(oldest[0][1] + window - now, 0.0)

    def add(self, key: str, window: float) -> None:
        name, now = self.namespace + key, time.time()
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.zadd(name, {f"{now:.6f}-{secrets.token_hex(4)}": now})
            pipe.expire(name, int(window) + 60)
            pipe.execute()
        except redis.RedisError:
            self.fallback.add(key, window)

    def clear(self, key: str) -> None:
        try:
            self.client.delete(self.namespace + key)
        except redis.RedisError:
            pass
        self.fallback.clear(key)
