"""The sign-in throttle shared through Redis, and its fallback while Redis is down."""
from ethergate.accounts.throttle_store import RedisAttemptStore
from ethergate.accounts.throttle import LoginThrottle, MemoryAttemptStore
from tests import services


def test_two_processes_share_one_count_and_survive_redis_outage(tmp_path):
    server = services.start_redis(tmp_path / "redis")
    try:
        first = LoginThrottle(RedisAttemptStore(server.url, MemoryAttemptStore()), per_email=3, per_ip=100)
        second = LoginThrottle(RedisAttemptStore(server.url, MemoryAttemptStore()), per_email=3, per_ip=100)
        for throttle in (first, second, first):
            assert throttle.retry_after("a@example.com", "10.0.0.1") == 0
            throttle.failed("a@example.com", "10.0.0.1")
        wait = second.retry_after("a@example.com", "10.0.0.1")
        assert 890 < wait <= 900
        second.succeeded("a@example.com")
        assert first.retry_after("a@example.com", "10.0.0.1") == 0
        server.kill()
        first.failed("b@example.com", None)  # counted locally while Redis is down, never an exception
        assert first.retry_after("b@example.com", None) == 0
    finally:
        server.stop()
