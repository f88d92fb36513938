"""Sign-in throttling on its own: the sliding window, a success clearing the email, a bounded memory store."""
import pytest

from ethergate.accounts.throttle import LoginThrottle, MemoryAttemptStore


def test_throttle_window_slides_and_success_clears_the_email():
    now = [1000.0]
    throttle = LoginThrottle(MemoryAttemptStore(clock=lambda: now[0]), per_email=5, per_ip=20, window=900)
    for _ in range(5):
        assert throttle.retry_after("a@example.com", "1.1.1.1") == 0
        throttle.failed("a@example.com", "1.1.1.1")
        now[0] += 60
    assert throttle.retry_after("a@example.com", "1.1.1.1") == pytest.approx(600)
    now[0] += 600
    assert throttle.retry_after("a@example.com", "1.1.1.1") == 0  # the first failure left the window
    throttle.failed("a@example.com", "1.1.1.1")
    assert throttle.retry_after("a@example.com", "1.1.1.1") > 0
    throttle.succeeded("a@example.com")
    assert throttle.retry_after("a@example.com", "1.1.1.1") == 0


def test_memory_store_stays_bounded():
    store = MemoryAttemptStore(max_keys=10)
    for n in range(100):
        store.add(f"k{n}", 60)
    assert len(store._events) <= 10
    assert store.recent("k99", 60)[0] == 1
