"""/metrics: the series move with real traffic, add up across gunicorn workers, and stay private."""
from __future__ import annotations

import uuid

import pytest
import requests
from sqlalchemy import func, select

from ethergate.extensions import db
from ethergate.usage.models import RequestLog
from tests.ops.servers import directive, fresh, read_stream, scrape, total, value, wait_until

FLASH, PLUS = "deepseek/deepseek-v4-flash", "qwen/qwen-plus"


def chat(server, key, model, messages, stream=False, **extra):
    body = {"model": model, "messages": messages, "stream": stream, **extra}
    return requests.post(server.base_url + "/chat/completions", json=body, timeout=20, stream=stream,
                         headers={"Authorization": f"Bearer {key}"})


def test_request_series_move_with_traffic(live_server, live_factories):
    tenant = live_factories.tenant(credits="100.00", rpm_limit=1000)
    limited = live_factories.tenant(credits="100.00", rpm_limit=1)
    broke = live_factories.tenant(credits=None, rpm_limit=1000)
    before = scrape(live_server.url)

    assert chat(live_server, tenant.plaintext, FLASH, directive("hi")).status_code == 200
    streamed = chat(live_server, tenant.plaintext, PLUS, directive("hi", chunks=3), stream=True,
                    stream_options={"include_usage": True})
    assert streamed.status_code == 200 and read_stream(streamed)["done"]
    assert chat(live_server, "cr_" + "x" * 40, FLASH, directive("hi")).status_code == 401
    assert chat(live_server, limited.plaintext, FLASH, directive("hi")).status_code == 200
    refused = chat(live_server, limited.plaintext, FLASH, directive("hi"))
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
    unpaid = chat(live_server, broke.plaintext, FLASH, directive("hi"))
    assert unpaid.status_code == 402 and unpaid.json()["error"]["code"] == "insufficient_credits"
    failed = chat(live_server, tenant.plaintext, FLASH, directive("hi", status=500))
    assert failed.status_code == 502

    after = scrape(live_server.url)

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("ethergate_requests_total", model=FLASH, provider="deepseek", status=200) == 2
    assert delta("ethergate_requests_total", model=PLUS, provider="qwen", status=200) == 1
    assert delta("ethergate_requests_total", model="", provider="", status=401) == 1
    assert delta("ethergate_requests_total", status=429) == 1
    assert delta("ethergate_requests_total", status=402) == 1
    assert delta("ethergate_requests_total", model=FLASH, status=502) == 1
    assert delta("ethergate_request_duration_seconds_count") == 7
    assert delta("ethergate_time_to_first_token_seconds_count", model=PLUS, provider="qwen") == 1
    assert delta("ethergate_time_to_first_token_seconds_count", model=FLASH) == 0
    for model in (FLASH, PLUS):
        assert delta("ethergate_tokens_total", model=model, kind="prompt") > 0
        assert delta("ethergate_tokens_total", model=model, kind="completion") > 0
        billed = fresh(lambda: db.session.scalar(
            select(func.sum(RequestLog.cost_micro)).where(RequestLog.model_id == model)))
        assert delta("ethergate_credits_debited_micro_total", model=model) == billed > 0
    # Every route of the model was tried once and failed with a server error.
    assert delta("ethergate_upstream_errors_total", provider="deepseek", kind="server") >= 1
    assert delta("ethergate_rate_limited_total", code="rate_limit_exceeded") == 1
    assert delta("ethergate_payment_required_total", code="insufficient_credits") == 1
    assert value(after, "ethergate_streams_in_flight") == 0
    assert value(after, "ethergate_hold_sweep_runs_total") >= 1
    assert ("ethergate_holds_released_total", frozenset()) in after
    assert ("ethergate_hold_sweep_errors_total", frozenset()) in after


def test_streams_in_flight_gauge_follows_a_stream(live_server, live_factories):
    tenant = live_factories.tenant(credits="100.00", rpm_limit=1000)
    response = chat(live_server, tenant.plaintext, PLUS, directive("slow", chunks=6, gap_ms=300), stream=True)
    lines = response.iter_lines()
    next(line for line in lines if line.startswith(b"data: "))
    assert value(scrape(live_server.url), "ethergate_streams_in_flight") == 1
    for _ in lines:
        pass
    assert wait_until(lambda: value(scrape(live_server.url), "ethergate_streams_in_flight") == 0, timeout=5)


def test_metrics_add_up_across_gunicorn_workers(gunicorn_factory, factories_for, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    server = gunicorn_factory({"ETHERGATE_ALLOW_PER_PROCESS_LIMITS": "true", "TMPDIR": str(temp)}, workers=2)
    assert len(list(temp.glob("ethergate-metrics-*"))) == 1
    tenant = factories_for(server).tenant(credits="100.00", rpm_limit=1000)

    def served_by() -> set:
        return {line["pid"] for line in server.log_lines() if line.get("logger") == "ethergate.access"}

    # Which worker accepts a new connection is up to the kernel and the workers' load: one may take a long
    # run of them, so send until both have served some (new connections each time), then count.
    sent = 0
    while sent < 24 or len(served_by()) < 2:
        assert sent < 400, "one worker served 400 new connections in a row"
        for _ in range(8):
            assert requests.get(server.base_url + "/models", headers={"Connection": "close"},
                                timeout=5).status_code == 401
        sent += 8
    # Each worker's hook started a sweeper, which sweeps once right away (soon after the worker starts).
    assert wait_until(lambda: value(scrape(server.url), "ethergate_hold_sweep_runs_total") >= 2, timeout=10)
    for _ in range(4):  # whichever worker answers the scrape, it reports every worker's requests
        samples = scrape(server.url, headers={"Connection": "close"})
        assert total(samples, "ethergate_requests_total", status=401) == sent
        assert value(samples, "ethergate_hold_sweep_runs_total") >= 2

    # Long enough that four scrapes on a busy machine finish while it is still in flight.
    response = chat(server, tenant.plaintext, PLUS, directive("slow", chunks=20, gap_ms=250), stream=True)
    lines = response.iter_lines()
    next(line for line in lines if line.startswith(b"data: "))
    for _ in range(4):
        assert value(scrape(server.url, headers={"Connection": "close"}), "ethergate_streams_in_flight") == 1
    for _ in lines:
        pass
    assert wait_until(lambda: value(scrape(server.url), "ethergate_streams_in_flight") == 0, timeout=5)

    server.stop()
    assert server.process.returncode == 0
    assert list(temp.glob("ethergate-metrics-*")) == [], "the master removes its metrics directory on exit"


@pytest.fixture
def metrics_client(app):
    app.config["METRICS_TOKEN"] = "metrics-token-" + uuid.uuid4().hex
    return app.test_client()


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_clients_may_scrape(metrics_client, address):
    response = metrics_client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert b"ethergate_requests_total" in response.data


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.20", "2001:db8::1", "::ffff:10.0.0.5", ""])
def test_other_clients_get_a_plain_404(metrics_client, address):
    response = metrics_client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    unknown = metrics_client.get("/no-such-page", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == unknown.status_code == 404
    assert b"ethergate_" not in response.data


def test_a_request_through_a_proxy_is_not_loopback(metrics_client):
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        response = metrics_client.get("/metrics", headers={header: "203.0.113.9"},
                                      environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert response.status_code == 404, header


def test_the_metrics_token_opens_it_to_other_hosts(app, metrics_client):
    token = app.config["METRICS_TOKEN"]
    remote = {"REMOTE_ADDR": "10.0.0.5"}
    assert metrics_client.get("/metrics", headers={"Authorization": f"Bearer {token}"},
                              environ_base=remote).status_code == 200
    for wrong in (f"Bearer {token}x", f"Bearer {token[:-1]}", token, f"Basic {token}", "Bearer "):
        assert metrics_client.get("/metrics", headers={"Authorization": wrong},
                                  environ_base=remote).status_code == 404, wrong


def test_without_a_configured_token_no_bearer_opens_it(app):
    app.config["METRICS_TOKEN"] = None
    client = app.test_client()
    assert client.get("/metrics", headers={"Authorization": "Bearer "},
                      environ_base={"REMOTE_ADDR": "10.0.0.5"}).status_code == 404
