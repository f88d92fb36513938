"""Tool calling through the real SDK for every provider: passed through, answered plain and streamed."""
import json

import pytest

from .e2e import ledger_invariant, live_server, say  # noqa: F401

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant

MODELS = {"deepseek": "deepseek/deepseek-v4-flash", "qwen": "qwen/qwen-plus", "moonshot": "moonshot/kimi-k2.6"}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]
CALLS = [{"name": "get_weather", "arguments": {"city": "Hangzhou"}},
         {"name": "get_time", "arguments": {"tz": "Asia/Shanghai"}}]
EXPECTED = [("get_weather", {"city": "Hangzhou"}), ("get_time", {"tz": "Asia/Shanghai"})]


def test_tool_calls_plain(client, fake_upstream):
    for provider, model in MODELS.items():
        completion = client.chat.completions.create(model=model, messages=say("weather?", tool_calls=CALLS),
                                                    tools=TOOLS, tool_choice="auto")
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls", provider
        calls = choice.message.tool_calls
        assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == EXPECTED, provider
        assert len({c.id for c in calls}) == 2 and all(c.type == "function" for c in calls)
        sent = fake_upstream.requests()[-1]["body"]
        assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto", provider


def test_tool_calls_streamed_as_index_keyed_deltas(client):
    for provider, model in MODELS.items():
        stream = client.chat.completions.create(model=model, messages=say("weather?", tool_calls=CALLS),
                                                tools=TOOLS, stream=True)
        calls: dict[int, dict] = {}
        finish = None
        for chunk in stream:
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                for delta in choice.delta.tool_calls or []:
                    if delta.index not in calls:
                        # The first delta of a call names it; later ones only add arguments.
                        assert delta.id and delta.type == "function" and delta.function.name, (provider, delta)
                        calls[delta.index] = {"id": delta.id, "name": delta.function.name, "arguments": ""}
                    else:
                        assert delta.id is None and delta.function.name is None, (provider, delta)
                    calls[delta.index]["arguments"] += delta.function.arguments or ""
        assert finish == "tool_calls" and sorted(calls) == [0, 1], provider
        assert [(c["name"], json.loads(c["arguments"])) for _, c in sorted(calls.items())] == EXPECTED, provider
    # The SDK's own accumulator must agree.
    with client.chat.completions.stream(model=MODELS["qwen"], messages=say("weather?", tool_calls=CALLS[:1]),
                                        tools=TOOLS) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == EXPECTED[0]


def test_tool_results_go_back_upstream(client, fake_upstream):
    for provider, model in MODELS.items():
        first = client.chat.completions.create(model=model, messages=say("weather?", tool_calls=CALLS[:1]),
                                               tools=TOOLS)
        call = first.choices[0].message.tool_calls[0]
        history = [{"role": "user", "content": "weather?"},
                   {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
                   {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 21}'}]
        answer = client.chat.completions.create(model=model, messages=history, tools=TOOLS)
        assert answer.choices[0].message.content and answer.choices[0].finish_reason == "stop"
        sent = fake_upstream.requests()[-1]["body"]["messages"]
        assert sent[1]["tool_calls"][0]["id"] == call.id and sent[2]["tool_call_id"] == call.id, provider
