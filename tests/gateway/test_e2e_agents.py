"""What agent tools send: caps above a model's limit, reasoning sent back in tool loops, OpenAI-only fields,
streams without include_usage; over real HTTP to a fake upstream that refuses what each provider refuses."""
import json

import pytest

from .conftest import post
from .e2e import ledger_invariant, live_server, log_row, say  # noqa: F401

MODELS = {"deepseek": "deepseek/deepseek-v4-flash", "qwen": "qwen/qwen-plus", "moonshot": "moonshot/kimi-k2.6"}
TOOLS = [{"type": "function", "function": {"name": "read_file", "parameters": {
    "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}]


def upstream_bodies(fake):
    return [r["body"] for r in fake.requests() if r["path"].endswith("/chat/completions")]


@pytest.mark.parametrize("stream", [False, True])
def test_a_cap_above_the_models_limit_is_clamped_and_reported(live_server, tenant, fake_upstream, stream):
    # Hermes sends max_tokens 65536 on every call; qwen-plus generates at most 32768.
    response = post(live_server, tenant.plaintext, {"model": "qwen/qwen-plus", "messages": say("hi"),
                                                    "max_tokens": 65536, "stream": stream})
    assert response.status_code == 200, response.text
    assert response.headers["X-EtherGate-Clamped"] == "max_tokens=32768"
    assert "Hello" in response.text
    assert upstream_bodies(fake_upstream)[-1]["max_tokens"] == 32768
    assert log_row(response.headers["X-Request-Id"]).status_code == 200


def test_max_completion_tokens_is_clamped_under_its_own_name(live_server, tenant, fake_upstream):
    response = post(live_server, tenant.plaintext, {"model": "moonshot/kimi-k2.6", "messages": say("hi"),
                                                    "max_completion_tokens": 384000})
    assert response.status_code == 200, response.text
    assert response.headers["X-EtherGate-Clamped"] == "max_completion_tokens=262144"
    assert upstream_bodies(fake_upstream)[-1]["max_completion_tokens"] == 262144


def test_a_cap_within_the_limit_is_sent_as_given_without_the_header(live_server, tenant, fake_upstream):
    response = post(live_server, tenant.plaintext, {"model": "qwen/qwen-plus", "messages": say("hi"),
                                                    "max_tokens": 32768})
    assert response.status_code == 200 and "X-EtherGate-Clamped" not in response.headers
    assert upstream_bodies(fake_upstream)[-1]["max_tokens"] == 32768


@pytest.mark.parametrize("cap", [0, -5, 1.5, "100", True])
def test_nonsense_caps_are_still_refused(live_server, tenant, fake_upstream, cap):
    response = post(live_server, tenant.plaintext, {"model": "qwen/qwen-plus", "messages": say("hi"),
                                                    "max_tokens": cap})
    assert response.status_code == 400 and response.json()["error"]["param"] == "max_tokens"
    assert upstream_bodies(fake_upstream) == []


@pytest.mark.parametrize("provider", ["deepseek", "moonshot"])
def test_a_thinking_tool_loop_sends_reasoning_back(client, fake_upstream, provider):
    model = MODELS[provider]
    fake_upstream.add_behavior(provider, {"reasoning": "I should open the file first.", "tool_calls": [
        {"name": "read_file", "arguments": {"path": "README.md"}}]}, times=1)
    messages = [{"role": "user", "content": "read README"}]
    first = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
    turn = first.choices[0].message
    assert turn.reasoning_content == "I should open the file first." and turn.tool_calls
    if provider == "deepseek":  # Kimi's usage has no reasoning breakdown
        assert first.usage.completion_tokens_details.reasoning_tokens == 6

    history = [*messages, turn.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": turn.tool_calls[0].id, "content": "# EtherGate"}]
    second = client.chat.completions.create(model=model, messages=history, tools=TOOLS)
    assert second.choices[0].message.content.startswith("Hello from fake")
    assert upstream_bodies(fake_upstream)[-1]["messages"][1]["reasoning_content"] == "I should open the file first."

    # A client that dropped the reasoning still gets through: the provider only checks the field is there.
    forgetful = [*messages, {k: v for k, v in history[1].items() if k != "reasoning_content"}, history[2]]
    third = client.chat.completions.create(model=model, messages=forgetful, tools=TOOLS)
    assert third.choices[0].finish_reason == "stop"


def test_reasoning_is_streamed_in_deltas_and_counted(client):
    stream = client.chat.completions.create(model=MODELS["deepseek"], stream=True,
                                            stream_options={"include_usage": True},
                                            messages=say("think", reasoning="Two plus two is four."))
    chunks = list(stream)
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    assert reasoning == "Two plus two is four."
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 5


def test_reasoning_sent_back_to_qwen_is_stripped(client, fake_upstream):
    history = [{"role": "user", "content": "read README"},
               {"role": "assistant", "content": None, "reasoning_content": "Open it.", "tool_calls": [
                   {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "# EtherGate"}]
    answer = client.chat.completions.create(model=MODELS["qwen"], messages=history, tools=TOOLS,
                                            extra_body={"enable_thinking": True})
    assert answer.choices[0].finish_reason == "stop"
    assert "reasoning_content" not in upstream_bodies(fake_upstream)[-1]["messages"][1]


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_what_agents_send_never_reaches_a_provider_that_refuses_it(live_server, tenant, fake_upstream, provider):
    body = {"model": MODELS[provider], "store": True, "metadata": {"run": "1"}, "user": "u-1",
            "prompt_cache_key": "session-1", "parallel_tool_calls": True, "tools": TOOLS,
            "tool_choice": "required", "reasoning_effort": "high",
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            "messages": [{"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
                         {"role": "user", "content": "hi"}, {"role": "system", "content": "Answer in JSON."},
                         {"role": "user", "content": [{"type": "text", "text": "now"}]}]}
    response = post(live_server, tenant.plaintext, body)
    assert response.status_code == 200, response.text
    dropped = set(response.headers["X-Dropped-Params"].split(","))
    assert {"store", "metadata", "user", "prompt_cache_key"} <= dropped
    sent = upstream_bodies(fake_upstream)[-1]
    assert not dropped & set(sent) - {"tool_choice"}
    assert sent["response_format"] == {"type": "json_object"}
    assert all(m["role"] != "developer" and isinstance(m["content"], str) for m in sent["messages"])


def test_unknown_content_parts_are_refused_by_the_gateway(live_server, tenant, fake_upstream):
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    response = post(live_server, tenant.plaintext, {"model": MODELS["qwen"], "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}, audio]}]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content[1].type"
    assert upstream_bodies(fake_upstream) == []


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_streams_without_include_usage_are_metered_and_never_see_usage(client, provider):
    # aider streams without stream_options; the gateway still asks the provider for usage.
    raw = client.chat.completions.with_raw_response.create(model=MODELS[provider], messages=say("hi"), stream=True)
    lines = [line for line in raw.http_response.iter_lines() if line.startswith("data: {")]
    chunks = [json.loads(line[6:]) for line in lines]
    assert chunks and all("usage" not in c and c["choices"] for c in chunks)
    row = log_row(raw.headers["X-Request-Id"])
    assert not row.estimated and row.completion_tokens > 0
