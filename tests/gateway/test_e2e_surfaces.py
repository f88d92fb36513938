"""The Messages and Responses surfaces over real HTTP with the official SDKs, billed as chat completions are."""
import json

import anthropic
import openai
import pytest
import requests
from sqlalchemy import select

from ethergate.billing.models import LedgerEntry
from ethergate.extensions import db

from .e2e import call, fresh, ledger_invariant, live_server, log_row, say  # noqa: F401

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant

MODELS = {"deepseek": "deepseek/deepseek-v4-flash", "qwen": "qwen/qwen-plus", "moonshot": "moonshot/kimi-k2.6"}
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CALL = [{"name": "get_weather", "arguments": {"city": "Hangzhou"}}]


def text(prompt: str, **behavior) -> str:
    return say(prompt, **behavior)[0]["content"]


def root(server) -> str:
    return server.base_url.removesuffix("/v1")


@pytest.fixture
def claude(live_server, tenant):
    return anthropic.Anthropic(api_key=tenant.plaintext, base_url=root(live_server), max_retries=0, timeout=20)


def entries_of(request_id: str) -> list:
    table = LedgerEntry.__table__
    return fresh(lambda: db.session.execute(select(table).where(table.c.request_id == request_id)).all())


def test_messages_answer_plain_on_every_provider_and_bill_like_chat(claude):
    for provider, model in MODELS.items():
        raw = claude.messages.with_raw_response.create(
            model=model, max_tokens=200, system="Be brief.", messages=[{"role": "user", "content": text("hi")}])
        message = raw.parse()
        assert message.type == "message" and message.role == "assistant" and message.model == model
        assert message.content[0].type == "text" and message.content[0].text, provider
        assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0
        request_id = raw.headers["X-Request-Id"]
        row = log_row(request_id)
        assert (row.surface, row.provider, row.status_code, row.path) == ("messages", provider, 200, "/v1/messages")
        [entry] = entries_of(request_id)
        assert -entry.amount_micro == row.cost_micro == round(float(raw.headers["X-EtherGate-Cost"]) * 1_000_000)
        assert message.usage.model_extra["cost"] == raw.headers["X-EtherGate-Cost"]  # the receipt, as on chat


def test_messages_stream_thinking_and_tools_through_the_sdk(claude, fake_upstream):
    for provider, model in MODELS.items():
        with claude.messages.stream(
                model=model, max_tokens=500, tools=[WEATHER], thinking={"type": "enabled", "budget_tokens": 256},
                messages=[{"role": "user", "content": text("weather?", reasoning="Use the tool.", tool_calls=CALL)}],
        ) as stream:
            final = stream.get_final_message()
            request_id = stream.response.headers["X-Request-Id"]
        kinds = [block.type for block in final.content]
        assert kinds[-1] == "tool_use" and final.stop_reason == "tool_use", (provider, kinds)
        call_block = final.content[-1]
        assert (call_block.name, call_block.input) == ("get_weather", {"city": "Hangzhou"})
        assert final.usage.output_tokens > 0
        row = log_row(request_id)
        assert (row.surface, row.stream, row.status_code, row.provider) == ("messages", True, 200, provider)
        assert row.completion_tokens > 0 and -entries_of(request_id)[0].amount_micro == row.cost_micro


def test_messages_stream_text_arrives_as_text_deltas(claude):
    with claude.messages.stream(model=MODELS["qwen"], max_tokens=100,
                                messages=[{"role": "user", "content": text("hello", text="Hello there, friend.")}]
                                ) as stream:
        streamed = "".join(stream.text_stream)
    assert streamed == "Hello there, friend."


def test_messages_accepts_x_api_key_bearer_beta_headers_and_query(live_server, tenant):
    bearer = anthropic.Anthropic(auth_token=tenant.plaintext, base_url=root(live_server), max_retries=0,
                                 default_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"})
    answered = bearer.beta.messages.create(model=MODELS["deepseek"], max_tokens=50,  # sends ?beta=true
                                           messages=[{"role": "user", "content": text("hi")}])
    assert answered.content[0].text
    response = requests.post(root(live_server) + "/v1/messages?beta=true", timeout=20, json={
        "model": MODELS["deepseek"], "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": tenant.plaintext, "anthropic-version": "2023-06-01"})
    assert response.status_code == 200 and response.json()["type"] == "message"


def test_every_messages_error_is_in_anthropics_envelope(live_server, live_factories, tenant):
    def refused(key, body, path="/v1/messages", status=None, kind=None, code=None):
        response = requests.post(root(live_server) + path, json=body, headers={"x-api-key": key}, timeout=20)
        assert response.status_code == status, response.text
        sent = response.json()
        assert sent["type"] == "error" and sent["error"]["type"] == kind and sent["error"]["code"] == code, sent
        assert sent["request_id"] == response.headers["X-Request-Id"]
        return response

    body = {"model": MODELS["qwen"], "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    refused("cr_" + "x" * 40, body, status=401, kind="authentication_error", code="invalid_api_key")
    refused(tenant.plaintext, {**body, "model": "acme/none"}, status=404, kind="not_found_error",
            code="model_not_found")
    refused(tenant.plaintext, {**body, "messages": "hi"}, status=400, kind="invalid_request_error",
            code="invalid_request_error")
    refused(tenant.plaintext, body, path="/v1/messages/batches", status=404, kind="not_found_error",
            code="not_found")
    broke = live_factories.tenant(credits="0.000001")
    refused(broke.plaintext, body, status=402, kind="billing_error", code="insufficient_credits")
    slow = live_factories.tenant(credits="10.00", rpm_limit=1)
    requests.post(root(live_server) + "/v1/messages", json=body, headers={"x-api-key": slow.plaintext}, timeout=20)
    limited = refused(slow.plaintext, body, status=429, kind="rate_limit_error", code="rate_limit_exceeded")
    assert limited.headers["Retry-After"] and limited.headers["X-RateLimit-Limit"] == "1"
    client = anthropic.Anthropic(api_key=broke.plaintext, base_url=root(live_server), max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(**body)
    assert caught.value.status_code == 402 and caught.value.body["error"]["type"] == "billing_error"


def test_messages_cap_max_tokens_and_name_dropped_fields(live_server, tenant, fake_upstream):
    response = requests.post(root(live_server) + "/v1/messages", timeout=20, headers={"x-api-key": tenant.plaintext},
                             json={"model": MODELS["qwen"], "max_tokens": 128_000, "service_tier": "auto",
                                   "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    assert fake_upstream.requests()[-1]["body"]["max_tokens"] == 32768  # qwen-plus's own limit
    assert "service_tier" in response.headers["X-Dropped-Params"]


def test_messages_count_tokens(live_server, tenant):
    response = requests.post(root(live_server) + "/v1/messages/count_tokens", timeout=20,
                             headers={"x-api-key": tenant.plaintext},
                             json={"model": MODELS["deepseek"], "messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 200 and response.json()["input_tokens"] > 0
    assert log_row(response.headers["X-Request-Id"]).surface == "messages"


def test_responses_plain_and_streamed_with_the_openai_sdk(client, fake_upstream):
    for provider, model in MODELS.items():
        raw = client.responses.with_raw_response.create(model=model, input=text("hi", reasoning="Think."),
                                                        instructions="Be brief.", max_output_tokens=200)
        response = raw.parse()
        assert response.status == "completed" and response.output_text, provider
        row = log_row(raw.headers["X-Request-Id"])
        assert (row.surface, row.provider, row.status_code) == ("responses", provider, 200)
        assert -entries_of(raw.headers["X-Request-Id"])[0].amount_micro == row.cost_micro

        tools = [{"type": "function", "name": "get_weather", "parameters": WEATHER["input_schema"]}]
        stream = client.responses.with_raw_response.create(model=model, input=text("weather?", tool_calls=CALL),
                                                           tools=tools, stream=True)
        events = list(stream.parse())
        assert events[0].type == "response.created" and events[-1].type == "response.completed", provider
        calls = [item for item in events[-1].response.output if item.type == "function_call"]
        assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Hangzhou"})]
        row = log_row(stream.headers["X-Request-Id"])
        assert (row.surface, row.stream, row.status_code) == ("responses", True, 200)
        assert events[-1].response.usage.model_extra["cost_details"]["currency"]


def test_responses_errors_are_openais(live_server, tenant, live_factories):
    bad = openai.OpenAI(api_key="cr_" + "x" * 40, base_url=live_server.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.responses.create(model=MODELS["qwen"], input="hi")
    broke = live_factories.tenant(credits="0.000001")
    poor = openai.OpenAI(api_key=broke.plaintext, base_url=live_server.base_url, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        poor.responses.create(model=MODELS["qwen"], input="hi")
    assert caught.value.status_code == 402 and caught.value.code == "insufficient_credits"


def test_the_same_request_on_all_three_surfaces_makes_identical_ledger_entries(live_server, tenant, client, claude):
    prompt = text("Name three rivers.", text="Yangtze, Yellow, Pearl.")
    chat = client.chat.completions.with_raw_response.create(
        model=MODELS["qwen"], max_tokens=300, messages=[{"role": "user", "content": prompt}])
    messages = claude.messages.with_raw_response.create(
        model=MODELS["qwen"], max_tokens=300, messages=[{"role": "user", "content": prompt}])
    responses = client.responses.with_raw_response.create(model=MODELS["qwen"], max_output_tokens=300, input=prompt)
    kept = ("kind", "amount_micro", "model_id", "provider", "prompt_tokens", "cached_tokens", "completion_tokens",
            "reasoning_tokens", "estimated", "pricing")
    seen = []
    for raw, surface in ((chat, "chat_completions"), (messages, "messages"), (responses, "responses")):
        request_id = raw.headers["X-Request-Id"]
        [entry] = entries_of(request_id)
        pricing = dict(entry.pricing)
        pricing.pop("priced_at")  # the moment of receipt, which differs by construction
        seen.append(tuple(pricing if name == "pricing" else getattr(entry, name) for name in kept))
        row = log_row(request_id)
        assert row.surface == surface and row.cost_micro == -entry.amount_micro
        assert raw.headers["X-EtherGate-Cost"]
    assert seen[0] == seen[1] == seen[2]
    assert len({raw.headers["X-EtherGate-Cost"] for raw in (chat, messages, responses)}) == 1
