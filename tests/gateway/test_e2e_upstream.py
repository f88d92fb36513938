"""Upstream failures as the client sees them: mapped errors naming the provider, SDK retries, provider keys."""
import itertools
import json
import time

import openai
import pytest
import requests

from .e2e import (assert_envelope, call, ledger_invariant, live_server, log_row, log_rows, say,  # noqa: F401
                  tenant_ids, upstream_models, with_env)

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant

SINGLE_ROUTE = {"deepseek": "deepseek/deepseek-v4-pro", "qwen": "qwen/qwen-flash", "moonshot": "moonshot/kimi-k2.6"}


def sdk(server, key, max_retries=0):
    return openai.OpenAI(api_key=key, base_url=server.base_url, max_retries=max_retries, timeout=20)


def test_upstream_400_is_400_with_the_providers_message(client, fake_upstream):
    problem = "Range of input length should be [1, 30720]"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="qwen/qwen-plus", messages=say("hi", status=400, error_message=problem))
    error = caught.value
    assert problem in error.message and error.body["provider"] == "qwen" and error.request_id
    assert error.response.headers["X-EtherGate-Provider"] == "qwen"
    assert upstream_models(fake_upstream) == ["qwen-plus"]  # another route would refuse it too
    row = log_row(error.request_id)
    assert (row.status_code, row.provider, row.cost_micro) == (400, "qwen", 0)


def test_provider_out_of_balance_is_502_never_402(live_server, tenant):
    for (provider, model), stream in itertools.product(SINGLE_ROUTE.items(), (False, True)):
        body = {"model": model, "messages": say("hi", balance_exhausted=True), "stream": stream}
        response = call(live_server, tenant.plaintext, body)
        error = assert_envelope(response, 502, "provider_request_failed", provider=provider)
        assert "out of balance" in error["message"] and "not your credits" in error["message"], error
        row = log_row(response.headers["X-Request-Id"])
        assert (row.status_code, row.error_code, row.provider, row.cost_micro) == (
            502, "provider_request_failed", provider, 0)


def test_upstream_5xx_and_network_failures_are_502_naming_the_provider(live_server, tenant, fake_upstream):
    fake_upstream.add_behavior("qwen", {"status": 503})
    response = call(live_server, tenant.plaintext, {"model": "qwen/qwen-plus", "messages": say("hi")})
    error = assert_envelope(response, 502, "provider_request_failed", provider="qwen")
    assert "qwen" in error["message"]
    assert upstream_models(fake_upstream) == ["qwen-plus", "qwen-plus-latest"]
    attempts = log_row(response.headers["X-Request-Id"]).attempts
    assert [(a["upstream_model"], a["status"], a["kind"]) for a in attempts] == [
        ("qwen-plus", 503, "server"), ("qwen-plus-latest", 503, "server")]

    dropped = call(live_server, tenant.plaintext, {"model": "deepseek/deepseek-v4-pro",
                                                   "messages": say("hi", drop_after=0)})
    assert_envelope(dropped, 502, "provider_request_failed", provider="deepseek")
    assert log_row(dropped.headers["X-Request-Id"]).attempts[0]["kind"] == "network"


def test_upstream_429_that_failover_cannot_route_around(live_server, tenant):
    with pytest.raises(openai.RateLimitError) as caught:
        sdk(live_server, tenant.plaintext).chat.completions.create(
            model="qwen/qwen-plus", messages=say("hi", status=429, retry_after=3))
    error = caught.value
    assert error.code == "provider_rate_limited" and error.body["provider"] == "qwen" and error.request_id
    assert error.response.headers["Retry-After"] == "3"
    assert "not your key's limit" in error.message
    assert log_row(error.request_id).status_code == 429


def test_sdk_retries_a_passing_500_and_429_then_succeeds(live_server, tenant, fake_upstream):
    client = sdk(live_server, tenant.plaintext, max_retries=2)
    model = SINGLE_ROUTE["deepseek"]
    fake_upstream.add_behavior("deepseek", {"status": 500}, times=1)
    completion = client.chat.completions.create(model=model, messages=say("hi"))
    assert completion.choices[0].message.content.startswith("Hello from fake deepseek")

    fake_upstream.add_behavior("deepseek", {"status": 429, "retry_after": 1}, times=1)
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(model=model, messages=say("hi"))
    assert raw.parse().choices[0].message.content and time.monotonic() - started >= 0.9  # it honoured Retry-After
    assert raw.headers["X-EtherGate-Provider"] == "deepseek"
    rows = log_rows(api_key_id=tenant_ids(tenant)[1])
    assert [(r.status_code, r.error_code) for r in rows] == [
        (502, "provider_request_failed"), (200, None), (429, "provider_rate_limited"), (200, None)]
    assert all(r.cost_micro == 0 for r in rows if r.status_code != 200)


@with_env(ETHERGATE_MOONSHOT_API_KEY="")
def test_unconfigured_provider_is_503_and_status_says_why(live_server, tenant, fake_upstream, client):
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="moonshot/kimi-k2.6", messages=say("hi"))
    error = caught.value
    assert error.status_code == 503 and error.code == "model_not_ready" and error.request_id
    assert "ETHERGATE_MOONSHOT_API_KEY" in error.message

    status = requests.get(live_server.url + "/status", timeout=10).json()
    assert status["providers"]["moonshot"]["configured"] is False
    assert "ETHERGATE_MOONSHOT_API_KEY" in status["providers"]["moonshot"]["reason"]
    assert status["providers"]["qwen"]["configured"] is True and status["providers"]["qwen"]["reason"] is None
    kimi = next(m for m in status["models"] if m["id"] == "moonshot/kimi-k2.6")
    assert kimi["ready"] is False and "ETHERGATE_MOONSHOT_API_KEY" in kimi["reason"]

    listed = client.models.retrieve("moonshot/kimi-k2.6")
    assert listed.model_extra["ready"] is False and listed.model_extra["not_ready_reason"]

    for model in ("deepseek/deepseek-v4-flash", "qwen/qwen-plus"):
        client.chat.completions.create(model=model, messages=say("hi"))
        client.chat.completions.create(model=model, messages=say("hi"), stream=True).close()
    records = fake_upstream.requests()
    assert {r["provider"] for r in records} == {"deepseek", "qwen"}
    for record in records:
        assert record["authorization"] == f"Bearer sk-test-{record['provider']}"
        assert tenant.plaintext not in json.dumps(record)
