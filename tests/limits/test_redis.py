"""The shared sliding window in a real Redis: exact counts, atomicity across processes, Redis going away."""
import logging
import threading
import time
import uuid

import pytest
import redis

from ethergate.limits import Limiter, LimiterUnavailable, RedisLimiter, get_limiter
from tests.limits.clock import FakeClock
from tests.services import free_port


@pytest.fixture
def limiter(redis_server):
    limiter = RedisLimiter(redis_server.url)
    yield limiter
    limiter.close()


def key() -> str:
    return uuid.uuid4().hex


def server_time(limiter: RedisLimiter) -> float:
    seconds, micros = limiter.client.time()
    return seconds + micros / 1_000_000


def test_exact_counting_on_server_time(limiter):
    k = key()
    first = time.monotonic()
    for n in range(5):
        result = limiter.hit(k, 5)
        assert (result.allowed, result.limit, result.remaining, result.retry_after) == (True, 5, 4 - n, 0.0)
        assert result.reset_seconds == 60.0
    refused = limiter.hit(k, 5)
    truth = 60.0 - (time.monotonic() - first)
    assert not refused.allowed and refused.remaining == 0
    assert abs(refused.retry_after - truth) < 1.0
    assert 59.0 < refused.reset_seconds <= 60.0
    assert limiter.client.zcard(f"eg:rl:req:{k}") == 5
    assert 0 < limiter.client.pttl(f"eg:rl:req:{k}") <= 61_000


def test_retry_after_arithmetic_at_controlled_times(limiter):
    k, base = key(), server_time(limiter)
    for n in range(5):
        assert limiter.hit(k, 5, now=base + n).remaining == 4 - n
    refused = limiter.hit(k, 5, now=base + 10)
    assert (refused.allowed, refused.retry_after, refused.reset_seconds) == (False, 50.0, 54.0)
    assert not limiter.hit(k, 5, now=base + 59.999).allowed
    assert limiter.hit(k, 5, now=base + 60).allowed
    assert not limiter.hit(k, 5, now=base + 60.5).allowed


def test_no_double_burst_at_a_minute_boundary(limiter):
    k, base = key(), server_time(limiter)
    assert sum(limiter.hit(k, 10, now=base + 59 + i / 100).allowed for i in range(10)) == 10
    assert sum(limiter.hit(k, 10, now=base + 61 + i / 100).allowed for i in range(10)) == 0
    assert not limiter.hit(k, 10, now=base + 118.99).allowed
    assert limiter.hit(k, 10, now=base + 119).allowed


def test_two_processes_fifty_threads_exactly_the_limit(redis_server):
    processes = [RedisLimiter(redis_server.url), RedisLimiter(redis_server.url)]
    k = key()
    start = threading.Barrier(50)
    results = []

    def worker(n):
        start.wait()
        results.append(processes[n % 2].hit(k, 20).allowed)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for process in processes:
        process.close()
    assert len(results) == 50
    assert results.count(True) == 20


def test_tokens_per_minute(limiter):
    k, base = key(), server_time(limiter)
    first = limiter.check_tokens(k, 1000, 400, now=base)
    assert (first.allowed, first.remaining, first.reset_seconds) == (True, 600, 0.0)
    limiter.record_tokens(k, 400, now=base)
    limiter.record_tokens(k, 300, now=base + 10)
    limiter.record_tokens(k, 0, now=base + 11)
    fits = limiter.check_tokens(k, 1000, 300, now=base + 20)
    assert (fits.allowed, fits.remaining, fits.reset_seconds) == (True, 0, 50.0)
    refused = limiter.check_tokens(k, 1000, 301, now=base + 20)
    assert (refused.allowed, refused.remaining, refused.retry_after) == (False, 300, 40.0)
    assert limiter.check_tokens(k, 1000, 1000, now=base + 20).retry_after == 50.0
    assert limiter.check_tokens(k, 1000, 301, now=base + 60).allowed
    assert not limiter.check_tokens(k, 1000, 5000, now=base + 60).allowed
    assert limiter.check_tokens(k, 1000, 5000, now=base + 70).allowed


def test_tokens_on_server_time(limiter):
    k = key()
    limiter.record_tokens(k, 900)
    assert limiter.check_tokens(k, 1000, 100).allowed
    refused = limiter.check_tokens(k, 1000, 101)
    assert not refused.allowed and 59.0 < refused.retry_after <= 60.0


def test_scripts_are_reloaded_after_the_server_forgets_them(limiter):
    k = key()
    assert limiter.hit(k, 3).remaining == 2
    limiter.client.script_flush()
    assert limiter.hit(k, 3).remaining == 1
    limiter.client.script_flush()
    limiter.record_tokens(k, 5)
    limiter.client.script_flush()
    assert limiter.check_tokens(k, 10, 5).remaining == 0


def test_unreachable_redis_fails_fast_and_open():
    limiter = Limiter(f"redis://127.0.0.1:{free_port()}/0", "open")
    started = time.monotonic()
    result = limiter.hit(key(), 2)
    assert result.allowed and result.remaining == 1
    assert time.monotonic() - started < 1.0
    status = limiter.status()
    assert (status["backend"], status["healthy"], status["scope"]) == ("redis", False, "per-process")
    limiter.close()


def test_redis_down_fail_open_then_recovers(app, killable_redis, caplog):
    app.config.update(REDIS_URL=killable_redis.url, RATE_LIMIT_FAILURE_MODE="open", RATE_LIMIT_RETRY_SECONDS=0.2)
    limiter = get_limiter(app)
    limiter.clock = clock = FakeClock()
    k = key()
    assert limiter.hit(k, 3).remaining == 2
    assert limiter.status() == {"backend": "redis", "healthy": True, "mode": "open", "degraded_since": None,
                                "last_error": None, "scope": "global"}
    killable_redis.kill()
    with caplog.at_level(logging.WARNING, logger="ethergate.limits"):
        fallback = [limiter.hit(k, 3) for _ in range(4)]
    # The local window starts empty and still limits this process.
    assert [r.allowed for r in fallback] == [True, True, True, False]
    assert len([r for r in caplog.records if "Redis unavailable" in r.getMessage()]) == 1
    status = limiter.status()
    assert (status["healthy"], status["scope"], status["mode"]) == (False, "per-process", "open")
    assert status["degraded_since"] and status["last_error"]
    limiter.record_tokens(k, 10)

    killable_redis.restart()
    clock.advance(0.3)
    # The restarted Redis kept nothing (no persistence), so its window starts afresh.
    assert limiter.hit(k, 3).remaining == 2
    assert limiter.redis.client.zcard(f"eg:rl:req:{k}") == 1
    assert limiter.status()["healthy"] is True
    limiter.close()


def test_redis_down_fail_closed_raises_then_recovers(killable_redis):
    clock = FakeClock()
    limiter = Limiter(killable_redis.url, "closed", retry_seconds=0.2, clock=clock)
    k = key()
    assert limiter.hit(k, 3).allowed
    killable_redis.kill()
    with pytest.raises(LimiterUnavailable):
        limiter.hit(k, 3)
    with pytest.raises(LimiterUnavailable):
        limiter.check_tokens(k, 100, 1)
    limiter.record_tokens(k, 10)
    status = limiter.status()
    assert (status["healthy"], status["mode"], status["scope"]) == (False, "closed", "global")

    killable_redis.restart()
    clock.advance(0.3)
    assert limiter.hit(k, 3).allowed
    assert limiter.redis.client.zcard(f"eg:rl:req:{k}") == 1
    assert limiter.status()["healthy"] is True
    limiter.close()


def test_status_notices_recovery_without_traffic(killable_redis):
    clock = FakeClock()
    limiter = Limiter(killable_redis.url, "open", retry_seconds=0.2, clock=clock)
    killable_redis.kill()
    assert limiter.status()["healthy"] is False
    killable_redis.restart()
    clock.advance(0.3)
    assert limiter.status()["healthy"] is True
    limiter.close()


def test_get_limiter_uses_redis_when_configured(app, redis_server):
    app.config["REDIS_URL"] = redis_server.url
    limiter = get_limiter(app)
    assert limiter is get_limiter(app)
    k = key()
    limiter.hit(k, 5)
    assert redis.Redis.from_url(redis_server.url).zcard(f"eg:rl:req:{k}") == 1
    assert limiter.status()["scope"] == "global"
    limiter.close()
