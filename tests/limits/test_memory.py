"""The in-process sliding window, driven by an injected clock, and the start-up refusal of per-process limits."""
import importlib.util
import os
import subprocess
import sys
import threading
import uuid

import pytest

from ethergate.limits import LimitResult, MemoryLimiter, get_limiter
from tests.conftest import ROOT, TEST_SECRET


def test_exact_counting_and_retry_after():
    limiter = MemoryLimiter()
    for n in range(5):
        result = limiter.hit("k", 5, now=100.0 + n)
        assert result == LimitResult(allowed=True, limit=5, remaining=4 - n, reset_seconds=60.0, retry_after=0.0)
    refused = limiter.hit("k", 5, now=110.0)
    assert refused == LimitResult(allowed=False, limit=5, remaining=0, reset_seconds=54.0, retry_after=50.0)
    assert not limiter.hit("k", 5, now=159.999).allowed
    passed = limiter.hit("k", 5, now=160.0)
    assert passed.allowed and passed.remaining == 0
    again = limiter.hit("k", 5, now=160.5)
    assert not again.allowed and again.retry_after == pytest.approx(0.5)


def test_refused_requests_are_not_recorded():
    limiter = MemoryLimiter()
    assert limiter.hit("k", 1, now=0.0).allowed
    for t in range(1, 60):
        assert not limiter.hit("k", 1, now=float(t)).allowed
    assert limiter.hit("k", 1, now=60.0).allowed


def test_no_double_burst_at_a_minute_boundary():
    limiter = MemoryLimiter()
    allowed = sum(limiter.hit("k", 10, now=59.0 + i / 100).allowed for i in range(10))
    assert allowed == 10
    assert sum(limiter.hit("k", 10, now=61.0 + i / 100).allowed for i in range(10)) == 0
    assert limiter.hit("k", 10, now=118.99).allowed is False
    assert limiter.hit("k", 10, now=119.0).allowed is True


def test_keys_are_independent_and_lowered_limits_wait_for_the_extra_requests():
    limiter = MemoryLimiter()
    for t in range(5):
        assert limiter.hit("big", 5, now=float(t)).allowed
    assert limiter.hit("other", 1, now=4.0).allowed
    lowered = limiter.hit("big", 3, now=10.0)
    assert not lowered.allowed and lowered.retry_after == 52.0 and lowered.reset_seconds == 54.0
    assert limiter.hit("big", 3, now=62.0).allowed


def test_zero_limit_refuses():
    assert not MemoryLimiter().hit("k", 0, now=1.0).allowed


def test_tokens_per_minute():
    limiter = MemoryLimiter()
    assert limiter.check_tokens("k", 1000, 400, now=0.0) == LimitResult(True, 1000, 600, 0.0, 0.0)
    limiter.record_tokens("k", 400, now=0.0)
    limiter.record_tokens("k", 300, now=10.0)
    limiter.record_tokens("k", 0, now=11.0)
    fits = limiter.check_tokens("k", 1000, 300, now=20.0)
    assert fits.allowed and fits.remaining == 0 and fits.reset_seconds == 50.0
    refused = limiter.check_tokens("k", 1000, 301, now=20.0)
    assert not refused.allowed and refused.remaining == 300 and refused.retry_after == 40.0
    needs_both = limiter.check_tokens("k", 1000, 1000, now=20.0)
    assert not needs_both.allowed and needs_both.retry_after == 50.0
    assert limiter.check_tokens("k", 1000, 301, now=60.0).allowed
    oversize = limiter.check_tokens("k", 1000, 5000, now=60.0)
    assert not oversize.allowed and oversize.retry_after == 10.0
    assert limiter.check_tokens("k", 1000, 5000, now=70.0).allowed


def test_idle_keys_are_dropped():
    limiter = MemoryLimiter()
    for n in range(100):
        limiter.hit(f"key-{n}", 5, now=0.0)
        limiter.record_tokens(f"key-{n}", 10, now=0.0)
    assert limiter.key_count() == 200
    limiter.hit("active", 5, now=61.0)
    assert limiter.key_count() == 1


def test_memory_stays_bounded_under_many_active_keys():
    limiter = MemoryLimiter(max_keys=100)
    for n in range(1000):
        limiter.hit(f"key-{n}", 5, now=n / 1000)
    assert limiter.key_count() <= 101


def test_threads_share_one_window_exactly():
    limiter = MemoryLimiter()
    start = threading.Barrier(50)
    results = []

    def worker():
        start.wait()
        results.append(limiter.hit("shared", 20).allowed)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 20


def test_limiter_without_redis_reports_per_process_scope(app):
    app.config["REDIS_URL"] = None
    limiter = get_limiter(app)
    assert get_limiter(app) is limiter
    assert limiter.hit(uuid.uuid4().hex, 2).remaining == 1
    assert limiter.status() == {"backend": "memory", "healthy": True, "mode": "open", "degraded_since": None,
                                "last_error": None, "scope": "per-process"}


def load_gunicorn_conf(monkeypatch, **env):
    for name in ("ETHERGATE_WORKERS", "ETHERGATE_REDIS_URL", "ETHERGATE_ALLOW_PER_PROCESS_LIMITS", "ETHERGATE_BIND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_settings(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch, ETHERGATE_REDIS_URL="redis://127.0.0.1:6379/0")
    assert (conf.worker_class, conf.bind, conf.workers, conf.graceful_timeout, conf.keepalive) == \
           ("gunicorn.workers.ggevent.GeventPyWSGIWorker", "127.0.0.1:8000", 2, 30, 5)
    conf = load_gunicorn_conf(monkeypatch, ETHERGATE_WORKERS="1", ETHERGATE_BIND="0.0.0.0:9000")
    assert (conf.workers, conf.bind) == (1, "0.0.0.0:9000")
    assert conf.check_rate_limit_scope(3, {"ETHERGATE_ALLOW_PER_PROCESS_LIMITS": "true"}).startswith(
        "RATE LIMITS ARE PER PROCESS")
    with pytest.raises(conf.StartRefused, match="expected true or false"):
        conf.check_rate_limit_scope(3, {"ETHERGATE_ALLOW_PER_PROCESS_LIMITS": "maybe"})


def check_config(tmp_path, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("ETHERGATE_WORKERS", "ETHERGATE_REDIS_URL", "ETHERGATE_ALLOW_PER_PROCESS_LIMITS")}
    environ.update(ETHERGATE_SECRET_KEY=TEST_SECRET,
                   ETHERGATE_DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}", **env)
    gunicorn = [sys.executable, "-m", "gunicorn", "--check-config", "-c", "gunicorn.conf.py", "wsgi:app"]
    return subprocess.run(gunicorn, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60)


def test_gunicorn_refuses_several_workers_without_redis_in_one_line(tmp_path):
    refused = check_config(tmp_path, ETHERGATE_WORKERS="4")
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ethergate: refusing to start 4 workers without ETHERGATE_REDIS_URL")
    assert "ETHERGATE_ALLOW_PER_PROCESS_LIMITS=true" in lines[0]


@pytest.mark.parametrize("env", [
    {"ETHERGATE_WORKERS": "1"},
    {"ETHERGATE_WORKERS": "4", "ETHERGATE_REDIS_URL": "redis://127.0.0.1:1/0"},
    {"ETHERGATE_WORKERS": "4", "ETHERGATE_ALLOW_PER_PROCESS_LIMITS": "true"},
])
def test_gunicorn_starts_when_limits_cannot_multiply_or_it_was_asked_for(tmp_path, env):
    assert check_config(tmp_path, **env).returncode == 0


def test_gunicorn_refuses_a_bad_worker_count(tmp_path):
    refused = check_config(tmp_path, ETHERGATE_WORKERS="many")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "ethergate: ETHERGATE_WORKERS: expected a whole number >= 1, got 'many'"


def test_gunicorn_checks_the_worker_count_given_on_the_command_line(tmp_path):
    environ = {k: v for k, v in os.environ.items() if k not in ("ETHERGATE_REDIS_URL",
                                                                "ETHERGATE_ALLOW_PER_PROCESS_LIMITS")}
    environ.update(ETHERGATE_SECRET_KEY=TEST_SECRET, ETHERGATE_WORKERS="1", ETHERGATE_BIND="127.0.0.1:0",
                   ETHERGATE_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    started = subprocess.run([sys.executable, "-m", "gunicorn", "-w", "3", "--no-control-socket", "-c",
                              "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=environ, capture_output=True,
                             text=True, timeout=60)
    assert started.returncode == 2
    assert "ethergate: refusing to start 3 workers without ETHERGATE_REDIS_URL" in started.stderr
    assert "Booting worker" not in started.stderr
