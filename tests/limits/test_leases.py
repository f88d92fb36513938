"""Request-slot leases and batched token records in a real Redis: the global limit holds, unused slots come
back, small limits stay one round trip per request, Redis dying mid-lease, and the round trips saved."""
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis

from ethergate.limits import Limiter, LimiterUnavailable, RedisLimiter, get_limiter
from tests import services
from tests.conftest import ROOT
from tests.limits.clock import FakeClock

BIG = 1000  # 2 % of it is 20 slots per lease


class CountingConnection(redis.Connection):
    """Counts what the client sends to Redis: one command, or one whole pipeline, is one round trip."""

    sent = 0
    lock = threading.Lock()

    def send_packed_command(self, command, check_health=True):
        with CountingConnection.lock:
            CountingConnection.sent += 1
        return super().send_packed_command(command, check_health)


def key() -> str:
    return uuid.uuid4().hex


def window(url: str, k: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return client.zcard(f"eg:rl:req:{k}")
    finally:
        client.close()


def counting_limiter(url: str, **options) -> Limiter:
    return Limiter(url, redis_options={"connection_class": CountingConnection}, **options)


def round_trips(action) -> int:
    before = CountingConnection.sent
    action()
    return CountingConnection.sent - before


def test_two_processes_hammering_one_key_never_pass_the_limit(redis_server):
    processes = [Limiter(redis_server.url), Limiter(redis_server.url)]
    k = key()
    start = threading.Barrier(16)
    allowed = []

    def worker(n):
        start.wait()
        for _ in range(120):
            allowed.append(processes[n % 2].hit(k, BIG).allowed)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    admitted = allowed.count(True)
    assert len(allowed) == 1920
    # Never more than the limit; fewer only by what leases held back at the end: 20 slots per process.
    assert BIG - 2 * 20 <= admitted <= BIG
    for process in processes:
        process.close()
    # Closing gives every unused slot back: the window holds exactly the admitted requests.
    assert window(redis_server.url, k) == admitted


def wait_for_window(url: str, k: str, size: int) -> int:
    deadline = time.monotonic() + 5
    while window(url, k) != size and time.monotonic() < deadline:
        time.sleep(0.05)
    return window(url, k)


def test_unused_slots_come_back_when_a_lease_ends(redis_server):
    limiter = Limiter(redis_server.url, lease_seconds=1)
    k = key()
    # Leases of 1, 2 and 4 slots: the fourth request leaves three unused slots in the window.
    results = [limiter.hit(k, BIG) for _ in range(4)]
    assert [r.remaining for r in results] == [999, 998, 997, 996]
    assert all(r.allowed and 60.0 <= r.reset_seconds <= 61.0 for r in results)
    assert window(redis_server.url, k) == 7
    assert wait_for_window(redis_server.url, k, 4) == 4
    limiter.close()


def test_another_process_gets_the_slots_a_lease_gave_back(redis_server):
    first, second = Limiter(redis_server.url, lease_seconds=2), Limiter(redis_server.url, lease_seconds=2)
    k, limit = key(), 100  # two slots per lease
    assert all(first.hit(k, limit).allowed for _ in range(98))
    # The first process holds its lease's last slot, so the second finds one free slot, then none.
    assert window(redis_server.url, k) == 99
    assert second.hit(k, limit).allowed
    refused = second.hit(k, limit)
    assert not refused.allowed and 59 < refused.retry_after <= 62 and refused.remaining == 0
    assert wait_for_window(redis_server.url, k, 99) == 99
    assert second.hit(k, limit).allowed
    assert not second.hit(k, limit).allowed
    for process in (first, second):
        process.close()


def test_small_limits_make_one_round_trip_per_request_exactly_as_before(redis_server):
    limiter = counting_limiter(redis_server.url)
    k = key()
    limiter.hit(k, 99)  # opens the connection
    trips = round_trips(lambda: [limiter.hit(k, 99) for _ in range(98)])
    assert trips == 98
    assert window(redis_server.url, k) == 99
    refused = limiter.hit(k, 99)
    assert not refused.allowed and 59 < refused.retry_after <= 60
    # Slots scored as requests, as `RedisLimiter.hit` always did: every one counts for exactly 60 s.
    assert limiter.redis.client.zrange(f"eg:rl:req:{k}", -1, -1, withscores=True)[0][0].count(b"-") == 1
    limiter.close()


def test_a_high_limit_key_makes_far_fewer_round_trips_than_requests(redis_server):
    limiter = counting_limiter(redis_server.url)
    k = key()
    limiter.hit(k, 1_000_000)
    trips = round_trips(lambda: [limiter.hit(k, 1_000_000) for _ in range(2000)])
    # Leases grow 2, 4, ... 256 slots; the upkeep adds a give-back now and then.
    assert trips <= 40, trips
    print(f"requests: {trips / 2000:.4f} Redis round trips per request")
    tokens = round_trips(lambda: [limiter.record_tokens(k, 10) for _ in range(2000)])
    assert tokens == 0  # written later, by the upkeep
    time.sleep(0.5)
    assert int(limiter.check_tokens(k, 1_000_000, 1).remaining) == 1_000_000 - 20_000 - 1
    # A few entries for 2000 requests, so each token check reads a short log.
    assert limiter.redis.client.zcard(f"eg:rl:tok:{k}") <= 5
    limiter.close()


def test_a_key_with_a_token_limit_makes_one_round_trip_per_request(redis_server):
    limiter = counting_limiter(redis_server.url)
    k = key()
    limiter.hit(k, 1_000_000)

    def request():
        limiter.hit(k, 1_000_000)
        limiter.check_tokens(k, 10_000_000, 1)
        limiter.record_tokens(k, 100)

    trips = round_trips(lambda: [request() for _ in range(1000)])
    # The token check is the one round trip left; the request slot and the usage record cost almost nothing.
    assert 1000 <= trips <= 1040, trips
    print(f"requests with a token limit: {trips / 1000:.3f} Redis round trips per request")
    limiter.close()


def test_batched_tokens_count_at_once_here_and_shortly_elsewhere(redis_server):
    here, elsewhere = Limiter(redis_server.url), Limiter(redis_server.url)
    k = key()
    here.record_tokens(k, 600)
    here.record_tokens(k, 300)
    assert here.check_tokens(k, 1000, 100).allowed
    refused = here.check_tokens(k, 1000, 101)
    assert not refused.allowed and refused.remaining == 100
    deadline = time.monotonic() + 2
    while elsewhere.check_tokens(k, 1000, 101).allowed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert time.monotonic() < deadline
    assert not elsewhere.check_tokens(k, 1000, 101).allowed
    for process in (here, elsewhere):
        process.close()


def test_closing_writes_batched_tokens(redis_server):
    limiter, other = Limiter(redis_server.url), Limiter(redis_server.url)
    k = key()
    limiter.record_tokens(k, 700)
    limiter.close()
    assert other.check_tokens(k, 1000, 300).remaining == 0
    other.close()


def lease_with_three_spare_slots(limiter: Limiter, k: str) -> None:
    for _ in range(4):
        assert limiter.hit(k, BIG).allowed


def test_redis_dies_mid_lease_fail_closed(killable_redis):
    clock = FakeClock()
    limiter = Limiter(killable_redis.url, "closed", retry_seconds=0.2, clock=clock, lease_seconds=5)
    k = key()
    lease_with_three_spare_slots(limiter, k)
    killable_redis.kill()
    # Slots Redis already granted still admit; the next lease cannot be had and the key is refused.
    assert [limiter.hit(k, BIG).remaining for _ in range(3)] == [995, 994, 993]
    with pytest.raises(LimiterUnavailable):
        limiter.hit(k, BIG)
    with pytest.raises(LimiterUnavailable):
        limiter.hit(key(), BIG)
    limiter.record_tokens(k, 10)
    assert limiter.status()["healthy"] is False

    killable_redis.restart()
    clock.advance(0.3)
    result = limiter.hit(k, BIG)
    assert result.allowed and result.remaining == BIG - 1
    assert limiter.status()["healthy"] is True
    limiter.close()


def test_redis_dies_mid_lease_fail_open(killable_redis):
    clock = FakeClock()
    limiter = Limiter(killable_redis.url, "open", retry_seconds=0.2, clock=clock, lease_seconds=5)
    k = key()
    lease_with_three_spare_slots(limiter, k)
    killable_redis.kill()
    assert [limiter.hit(k, BIG).allowed for _ in range(3)] == [True] * 3
    # Then this process limits on its own, from an empty window.
    fallback = limiter.hit(k, BIG)
    assert fallback.allowed and fallback.remaining == BIG - 1
    assert limiter.status()["scope"] == "per-process"
    limiter.record_tokens(k, 10)
    assert limiter.memory.check_tokens(k, 100, 90).allowed and not limiter.memory.check_tokens(k, 100, 91).allowed

    killable_redis.restart()
    clock.advance(0.3)
    assert limiter.hit(k, BIG).remaining == BIG - 1
    assert limiter.status()["scope"] == "global"
    limiter.close()


def test_tokens_batched_when_redis_dies_go_to_the_fallback_window(killable_redis, monkeypatch):
    monkeypatch.setattr("ethergate.limits.limiter.UPKEEP_SECONDS", 60)  # this test settles by hand
    limiter = Limiter(killable_redis.url, "open", retry_seconds=60)
    k = key()
    limiter.record_tokens(k, 400)
    killable_redis.kill()
    assert limiter.settle() is True
    assert limiter.status()["healthy"] is False
    assert not limiter.check_tokens(k, 1000, 601).allowed
    limiter.close()


def test_a_forked_child_takes_its_own_lease(redis_server):
    limiter = Limiter(redis_server.url, lease_seconds=30)
    k = key()
    lease_with_three_spare_slots(limiter, k)
    assert window(redis_server.url, k) == 7
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            # The parent's three spare slots are not the child's: it leases a slot of its own.
            code = 0 if limiter.hit(k, BIG).allowed and window(redis_server.url, k) == 8 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert limiter.hit(k, BIG).remaining == 995  # the parent still uses its own lease
    limiter.close()
    assert window(redis_server.url, k) == 6


def test_redis_limiter_lease_grants_only_what_fits(redis_server):
    limiter = RedisLimiter(redis_server.url)
    k = key()
    grant = limiter.lease(k, 10, 8, 1.0)
    assert (grant.granted, grant.remaining, len(grant.spare_slots)) == (8, 2, 7)
    assert 60.9 < grant.reset_seconds <= 61.0
    grant = limiter.lease(k, 10, 8, 1.0, give_back=grant.spare_slots[:3])
    assert (grant.granted, grant.remaining) == (5, 0)
    refused = limiter.lease(k, 10, 8, 1.0)
    assert refused.granted == 0 and 59 < refused.retry_after <= 60 and refused.spare_slots == []
    limiter.close()


def test_the_app_settings_size_the_leases(app, redis_server):
    app.config.update(REDIS_URL=redis_server.url, RATE_LIMIT_LEASE_SECONDS=0.5, RATE_LIMIT_LEASE_PERCENT=5)
    limiter = get_limiter(app)
    assert (limiter.leases.lease_seconds, limiter.leases.slots_for(100), limiter.leases.slots_for(10**9)) == (0.5, 5, 256)
    limiter.close()
    app.extensions.pop("ethergate.limiter")
    app.config["RATE_LIMIT_LEASE_PERCENT"] = 0
    limiter = get_limiter(app)
    assert limiter.leases is None and limiter.hit(key(), BIG).remaining == BIG - 1
    limiter.close()


def test_a_hung_redis_costs_a_busy_key_one_wait_not_one_per_request(tmp_path):
    server = services.start_redis(tmp_path / "redis")
    if server.external:
        pytest.skip("cannot pause an external Redis")
    limiter = Limiter(server.url, "open", retry_seconds=60)
    k = key()
    for _ in range(7):  # leases of 1, 2 and 4 slots, all used
        assert limiter.hit(k, BIG).allowed
    os.kill(server.pid, signal.SIGSTOP)
    try:
        start = threading.Barrier(8)
        waits = []

        def request():
            start.wait()
            began = time.monotonic()
            assert limiter.hit(k, BIG).allowed  # from the fallback window
            waits.append(time.monotonic() - began)

        threads = [threading.Thread(target=request) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # One lease call times out (twice 0.3 s with its retry) and the others share its failure.
        assert len(waits) == 8 and max(waits) < 1.5, waits
        assert limiter.status()["healthy"] is False
    finally:
        os.kill(server.pid, signal.SIGCONT)
        limiter.close()
        server.stop()


def test_requests_waiting_for_a_refused_lease_share_the_refusal(redis_server):
    limiter = counting_limiter(redis_server.url)
    k, limit = key(), 100
    assert all(limiter.hit(k, limit).allowed for _ in range(100))
    start = threading.Barrier(16)
    refusals = []

    def worker():
        start.wait()
        refusals.extend(limiter.hit(k, limit) for _ in range(5))

    def run():
        threads = [threading.Thread(target=worker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    trips = round_trips(run)
    assert len(refusals) == 80 and not any(r.allowed for r in refusals)
    assert all(58 < r.retry_after <= 61 and r.remaining == 0 for r in refusals)
    assert trips <= 80
    print(f"80 refused requests of one key from 16 threads: {trips} Redis round trips")
    limiter.close()


GEVENT_PROCESSES = """
from gevent import monkey; monkey.patch_all()
import sys, gevent, redis
from ethergate.limits import Limiter
url, k = sys.argv[1], sys.argv[2]
processes = [Limiter(url, lease_seconds=0.3), Limiter(url, lease_seconds=0.3)]
results = []
def client(n):
    for _ in range(40):
        results.append(processes[n % 2].hit(k, 1000).allowed)
gevent.joinall([gevent.spawn(client, n) for n in range(64)])
gevent.sleep(1.0)  # the upkeep greenlets give back what the leases left
held = redis.Redis.from_url(url).zcard(f"eg:rl:req:{k}")
print(results.count(True), held)
"""


def test_greenlets_of_two_processes_share_one_limit_under_gevent(redis_server):
    k = key()
    done = subprocess.run([sys.executable, "-c", GEVENT_PROCESSES, redis_server.url, k], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    admitted, held = map(int, done.stdout.split())
    assert 1000 - 2 * 20 <= admitted <= 1000
    assert held == admitted
