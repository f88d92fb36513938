"""Failover between routes, the circuit breaker and the upstream timeouts, seen through the live gateway."""
import time

import requests

from .e2e import (assert_envelope, call, ledger_invariant, live_server, log_row, say,  # noqa: F401
                  upstream_models, wait_for, with_env)

MODEL = "qwen/qwen-plus"  # routes: qwen/qwen-plus, then qwen/qwen-plus-latest


def test_a_failing_route_fails_over_to_the_next(client, fake_upstream):
    for failure in ({"status": 500}, {"status": 429}, {"status": 503, "retry_after": 1}):
        fake_upstream.clear()
        fake_upstream.add_behavior("qwen", failure, model="qwen-plus", times=2)
        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=say("hi"))
        assert raw.parse().choices[0].message.content == "Hello from fake qwen qwen-plus-latest."
        assert raw.headers["X-EtherGate-Provider"] == "qwen"
        attempts = log_row(raw.headers["X-Request-Id"]).attempts
        assert [(a["upstream_model"], a["status"]) for a in attempts] == [
            ("qwen-plus", failure["status"]), ("qwen-plus-latest", 200)]

        chunks = list(client.chat.completions.create(model=MODEL, messages=say("hi"), stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks).endswith("qwen-plus-latest.")
        assert upstream_models(fake_upstream) == ["qwen-plus", "qwen-plus-latest"] * 2
        client.chat.completions.create(model=MODEL, messages=say("hi"))  # ends the route's failure streak


def test_breaker_opens_after_five_failures_and_spares_the_route(live_server, client, fake_upstream):
    fake_upstream.add_behavior("qwen", {"status": 500}, model="qwen-plus")
    for _ in range(5):
        assert client.chat.completions.create(model=MODEL, messages=say("hi")).choices[0].message.content
    assert upstream_models(fake_upstream).count("qwen-plus") == 5
    fake_upstream.clear()
    for _ in range(3):
        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=say("hi"))
        assert raw.parse().choices[0].message.content.endswith("qwen-plus-latest.")
    assert upstream_models(fake_upstream) == ["qwen-plus-latest"] * 3  # nothing for the open route
    assert [a["upstream_model"] for a in log_row(raw.headers["X-Request-Id"]).attempts] == ["qwen-plus-latest"]
    qwen = requests.get(live_server.url + "/status", timeout=10).json()["providers"]["qwen"]
    assert qwen["open_circuits"] == 1 and qwen["last_error"]


def test_every_route_resting_is_a_502_naming_the_provider(live_server, tenant, fake_upstream):
    fake_upstream.add_behavior("deepseek", {"status": 500})
    body = {"model": "deepseek/deepseek-v4-pro", "messages": say("hi")}  # one route only
    for _ in range(5):
        assert_envelope(call(live_server, tenant.plaintext, body), 502, "provider_request_failed", provider="deepseek")
    fake_upstream.clear()
    response = call(live_server, tenant.plaintext, body)
    error = assert_envelope(response, 502, "provider_request_failed", provider="deepseek")
    assert "temporarily unavailable" in error["message"] and fake_upstream.requests() == []


@with_env(ETHERGATE_FIRST_BYTE_TIMEOUT="0.5")
def test_no_first_byte_in_time_fails_over(client, fake_upstream):
    fake_upstream.add_behavior("qwen", {"delay_ms": 5000}, model="qwen-plus", times=1)
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=say("hi"), stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text.endswith("qwen-plus-latest.") and time.monotonic() - started < 3
    attempts = log_row(raw.headers["X-Request-Id"]).attempts
    assert [(a["upstream_model"], a.get("kind")) for a in attempts] == [("qwen-plus", "timeout"),
                                                                       ("qwen-plus-latest", None)]
    assert wait_for(lambda: fake_upstream.requests()[0]["closed_by_client"], timeout=2)


# Nothing listens on port 1, so every deepseek route fails to connect.
@with_env(ETHERGATE_DEEPSEEK_BASE_URL="http://127.0.0.1:1", ETHERGATE_CONNECT_TIMEOUT="1")
def test_all_routes_failing_to_connect_is_502_naming_the_provider(live_server, tenant):
    started = time.monotonic()
    response = call(live_server, tenant.plaintext, {"model": "deepseek/deepseek-v4-flash", "messages": say("hi")})
    error = assert_envelope(response, 502, "provider_request_failed", provider="deepseek")
    assert "deepseek" in error["message"] and time.monotonic() - started < 3
    attempts = log_row(response.headers["X-Request-Id"]).attempts
    assert [(a["upstream_model"], a["kind"]) for a in attempts] == [("deepseek-flash", "network"),
                                                                   ("deepseek-v4-flash", "network")]
