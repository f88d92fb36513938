"""Per-key limits and key policies over real HTTP, in one process and across several."""
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
import requests
from openai import OpenAI

from ethergate.billing import ledger
from ethergate.extensions import db
from ethergate.keys import services as keys
from ethergate.keys.models import ApiKey
from ethergate.timeutil import utcnow
from ethergate.usage.models import RequestLog
from tests import services

MODEL = "qwen/qwen-plus"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}


def chat(server, plaintext, body=BODY, **headers):
    return requests.post(server.base_url + "/chat/completions", json=body, timeout=20,
                         headers={"Authorization": f"Bearer {plaintext}", **headers})


def seed_window(redis_url: str, key_id: int, count: int, age_seconds: float) -> None:
    """Put `count` requests into the key's window as if they arrived `age_seconds` ago (Redis clock)."""
    client = redis.Redis.from_url(redis_url)
    seconds, micros = client.time()
    at = seconds * 1_000_000 + micros - int(age_seconds * 1_000_000)
    client.zadd(f"eg:rl:req:{key_id}", {f"{at + i}-seed{i}": at + i for i in range(count)})
    client.close()


def rows_for_key(key_id):
    db.session.expire_all()
    rows = db.session.query(RequestLog).filter_by(api_key_id=key_id).order_by(RequestLog.id).all()
    db.session.commit()
    return rows


@pytest.mark.both_engines  # checks the balance the requests leave
def test_exact_counting_with_headers(live_server, live_factories, fake_upstream):
    tenant = live_factories.tenant(rpm_limit=5)
    fake_upstream.clear()
    for expected_remaining in (4, 3, 2, 1, 0):
        response = chat(live_server, tenant.plaintext)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert response.headers["X-RateLimit-Remaining"] == str(expected_remaining)
        assert 0 < int(response.headers["X-RateLimit-Reset"]) <= 60
    refused = chat(live_server, tenant.plaintext)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.json()["error"]["request_id"] == refused.headers["X-Request-Id"]
    retry_after = int(refused.headers["Retry-After"])
    assert 58 <= retry_after <= 60
    assert abs(int(refused.headers["retry-after-ms"]) / 1000 - retry_after) <= 1
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert len(fake_upstream.requests()) == 5  # the refused request never reached a provider
    rows = rows_for_key(tenant.key.id)
    assert [r.status_code for r in rows] == [200] * 5 + [429]
    assert rows[-1].cost_micro == 0 and rows[-1].error_code == "rate_limit_exceeded"
    balance, held = ledger.account_state(tenant.workspace.id)
    assert held == 0 and balance == 100_000_000 - sum(r.cost_micro for r in rows)


@pytest.fixture
def redis_url(tmp_path):
    server = services.start_redis(tmp_path / "redis")
    yield server
    server.stop()


def test_a_request_after_the_wait_passes(live_server_factory, live_factories, redis_url):
    server = live_server_factory(extra_env={"ETHERGATE_REDIS_URL": redis_url.url})
    tenant = live_factories.tenant(rpm_limit=3)
    seed_window(redis_url.url, tenant.key.id, 3, age_seconds=58.5)
    refused = chat(server, tenant.plaintext)
    assert refused.status_code == 429
    wait = int(refused.headers["retry-after-ms"]) / 1000
    assert 0.5 <= wait <= 2.0
    time.sleep(wait + 0.2)
    assert chat(server, tenant.plaintext).status_code == 200


def test_openai_sdk_retry_honours_retry_after(live_server_factory, live_factories, redis_url):
    server = live_server_factory(extra_env={"ETHERGATE_REDIS_URL": redis_url.url})
    tenant = live_factories.tenant(rpm_limit=2)
    seed_window(redis_url.url, tenant.key.id, 2, age_seconds=58.5)
    client = OpenAI(api_key=tenant.plaintext, base_url=server.base_url, max_retries=2, timeout=20)
    completion = client.chat.completions.create(**BODY)
    assert completion.choices[0].message.content
    assert [r.status_code for r in rows_for_key(tenant.key.id)] == [429, 200]


def test_two_processes_share_one_limit(live_server_factory, live_factories, redis_url):
    env = {"ETHERGATE_REDIS_URL": redis_url.url}
    first, second = live_server_factory(extra_env=env), live_server_factory(extra_env=env)
    tenant = live_factories.tenant(rpm_limit=6)
    statuses = [chat(server, tenant.plaintext).status_code for server in (first, second) * 5]
    assert statuses.count(200) == 6 and statuses.count(429) == 4
    assert statuses[:6] == [200] * 6


def test_redis_down_fails_open_then_recovers(live_server_factory, live_factories, redis_url):
    server = live_server_factory(extra_env={"ETHERGATE_REDIS_URL": redis_url.url})
    tenant = live_factories.tenant(rpm_limit=100)
    assert chat(server, tenant.plaintext).status_code == 200
    redis_url.kill()
    response = chat(server, tenant.plaintext)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "100"
    status = requests.get(server.url + "/status", timeout=10).json()["rate_limiter"]
    assert status["healthy"] is False and status["scope"] == "per-process"
    redis_url.restart()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status = requests.get(server.url + "/status", timeout=10).json()["rate_limiter"]
        if status["healthy"]:
            break
        time.sleep(0.5)
    assert status["healthy"] is True and status["scope"] == "global"
    assert chat(server, tenant.plaintext).status_code == 200


def test_redis_down_fails_closed_with_503(live_server_factory, live_factories, redis_url):
    server = live_server_factory(extra_env={"ETHERGATE_REDIS_URL": redis_url.url,
                                            "ETHERGATE_RATE_LIMIT_FAILURE_MODE": "closed"})
    tenant = live_factories.tenant(rpm_limit=100)
    redis_url.kill()
    response = chat(server, tenant.plaintext)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "rate_limiter_unavailable"
    assert "Retry-After" in response.headers
    assert ledger.account_state(tenant.workspace.id) == (100_000_000, 0)


@pytest.mark.both_engines  # checks the balance the requests leave
def test_refused_keys_and_models_are_never_billed(live_server, live_factories, live_app, fake_upstream):
    tenant = live_factories.tenant()
    revoked = live_factories.key(tenant.workspace)
    expired = live_factories.key(tenant.workspace, expires_at=utcnow() - timedelta(minutes=1))
    restricted = live_factories.key(tenant.workspace, allowed_models=["deepseek/deepseek-v4-flash"])
    keys.revoke_key(revoked.key.id, actor="test")
    rotated = keys.rotate_key(tenant.key.id, grace_seconds=0, actor="test")
    fake_upstream.clear()
    for plaintext in (revoked.plaintext, expired.plaintext, tenant.plaintext, "cr_" + "x" * 40, "garbage"):
        response = chat(live_server, plaintext)
        assert response.status_code == 401, plaintext
        assert response.json()["error"]["code"] == "invalid_api_key"
    response = chat(live_server, restricted.plaintext)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "model_not_allowed"
    assert fake_upstream.requests() == []
    assert ledger.account_state(tenant.workspace.id) == (100_000_000, 0)
    assert chat(live_server, rotated.plaintext).status_code == 200


def test_revocation_reaches_other_processes_within_the_cache_bound(live_server_factory, live_factories):
    env = {"ETHERGATE_KEY_CACHE_SECONDS": "1"}
    servers = [live_server_factory(extra_env=env), live_server_factory(extra_env=env)]
    tenant = live_factories.tenant()
    assert all(chat(s, tenant.plaintext).status_code == 200 for s in servers)  # warm both caches
    keys.revoke_key(tenant.key.id, actor="test")
    time.sleep(1.2)
    assert [chat(s, tenant.plaintext).status_code for s in servers] == [401, 401]
    assert db.session.get(ApiKey, tenant.key.id).revoked_at is not None


def test_two_processes_share_a_leased_limit(live_server_factory, live_factories, redis_url):
    env = {"ETHERGATE_REDIS_URL": redis_url.url}
    servers = [live_server_factory(extra_env=env), live_server_factory(extra_env=env)]
    tenant = live_factories.tenant(rpm_limit=150)  # 3 slots per lease at the default 2 %
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda n: chat(servers[n % 2], tenant.plaintext), range(200)))
    admitted = [r for r in responses if r.status_code == 200]
    # Never over the limit; short of it only by the slots the two processes still hold (3 each at most).
    assert 150 - 6 <= len(admitted) <= 150
    assert {r.json()["error"]["code"] for r in responses if r.status_code != 200} == {"rate_limit_exceeded"}
    assert all(0 <= int(r.headers["X-RateLimit-Remaining"]) < 150 for r in admitted)
    assert all(0 < int(r.headers["X-RateLimit-Reset"]) <= 61 for r in admitted)
    # Unused slots are given back once the leases end: the window then holds exactly the admitted requests.
    client = redis.Redis.from_url(redis_url.url)
    deadline = time.monotonic() + 5
    while client.zcard(f"eg:rl:req:{tenant.key.id}") != len(admitted) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.zcard(f"eg:rl:req:{tenant.key.id}") == len(admitted)
    client.close()


def test_a_stopping_server_gives_back_its_slots_and_writes_its_tokens(live_server_factory, live_factories, redis_url):
    server = live_server_factory(extra_env={"ETHERGATE_REDIS_URL": redis_url.url,
                                            "ETHERGATE_RATE_LIMIT_LEASE_SECONDS": "10"})
    tenant = live_factories.tenant(rpm_limit=1000, tpm_limit=1_000_000)
    # Leases of 1, 2 and 4 slots: after four requests the server holds three unused slots.
    assert [chat(server, tenant.plaintext).status_code for _ in range(4)] == [200] * 4
    client = redis.Redis.from_url(redis_url.url)
    assert client.zcard(f"eg:rl:req:{tenant.key.id}") == 7
    server.stop()
    assert client.zcard(f"eg:rl:req:{tenant.key.id}") == 4
    used = sum(int(member.rsplit(b":", 1)[1]) for member in client.zrange(f"eg:rl:tok:{tenant.key.id}", 0, -1))
    assert used == sum(row.prompt_tokens + row.completion_tokens for row in rows_for_key(tenant.key.id)) > 0
    client.close()
