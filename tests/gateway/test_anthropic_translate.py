"""The Messages surface's translation, proven against the official anthropic SDK's own types and parsers."""
import copy
import json

import anthropic
import pytest
from anthropic.types import Message, MessageTokensCount, RawMessageStreamEvent
from anthropic.types.shared import ErrorResponse
from pydantic import TypeAdapter

from ethergate.gateway.anthropic import (MessageEvents, count_tokens, error_body, message_from_completion,
                                         translate_messages_request)
from ethergate.gateway.errors import GatewayError, invalid_api_key
from ethergate.gateway.validation import validate_chat_request
from tests.gateway.surface_helpers import (client_reading, drive, provider_chunk, reasoning_text_tools, relay_chunks,
                                           sse_events, usage)

MODEL = "deepseek/deepseek-v4-flash"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
EVENT = TypeAdapter(RawMessageStreamEvent)
READ_TOOL = {"name": "Read", "description": "Read a file", "cache_control": {"type": "ephemeral"},
             "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}},
                              "required": ["file_path"]}}

# Shaped like a Claude Code turn: attribution block, cached system and tools, deferred MCP tool, tool
# search, a thinking + tool_use turn answered by an erroring tool_result with a screenshot, a system turn.
CLAUDE_CODE = {
    "model": MODEL, "max_tokens": 32000, "stream": True,
    "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.0; cc_entrypoint=cli"},
               {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "Fix the bug in a.py"}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should read a.py.", "signature": "sig-from-earlier"},
            {"type": "text", "text": "Reading it."},
            {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": "a.py"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "is_error": True,
             "content": [{"type": "text", "text": "permission denied"},
                         {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}}]},
            {"type": "text", "text": "Try again.", "cache_control": {"type": "ephemeral"}}]},
        {"role": "system", "content": "The user switched to plan mode."},
    ],
    "tools": [READ_TOOL,
              {"name": "mcp__jira__search", "description": "Search Jira", "defer_loading": True,
               "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}},
              {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}],
    "tool_choice": {"type": "auto"},
    "metadata": {"user_id": '{"device_id":"0fa78fc31d376e198df83f2adb2c78aa646b3b40545204b55b4f46e0b2c495bc",'
                            '"account_uuid":"","session_id":"936837ee-0276-49b2-88d0-f8e3ca03668c"}'},
    "thinking": {"type": "adaptive", "display": "omitted"},
    "output_config": {"effort": "max"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
    "temperature": 1,
}


def translated(body, **kwargs):
    request = translate_messages_request(body, **kwargs)
    validate_chat_request(copy.deepcopy(request.chat))  # the pipeline's own check accepts every produced body
    return request


def test_claude_code_turn_becomes_a_chat_request_with_every_extra_decided():
    request = translated(CLAUDE_CODE)
    chat = request.chat
    assert chat["messages"] == [
        {"role": "system", "content": "You are Claude Code.\n\nThe user switched to plan mode."},
        {"role": "user", "content": "Fix the bug in a.py"},
        {"role": "assistant", "content": "Reading it.", "reasoning_content": "I should read a.py.",
         "tool_calls": [{"id": "toolu_01", "type": "function",
                         "function": {"name": "Read", "arguments": '{"file_path": "a.py"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_01", "content": "Error: permission denied"},
        {"role": "user", "content": [
            {"type": "text", "text": "Images returned by tool call toolu_01:"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
            {"type": "text", "text": "Try again."}]},
    ]
    assert [t["function"]["name"] for t in chat["tools"]] == ["Read", "mcp__jira__search"]
    assert chat["tools"][0]["function"]["parameters"] == READ_TOOL["input_schema"]
    assert chat["tool_choice"] == "auto"
    assert chat["thinking"] == {"type": "enabled"}
    assert chat["reasoning_effort"] == "max"  # DeepSeek documents "max" (and recommends it for agents)
    assert translated({**CLAUDE_CODE, "model": "qwen/qwen-plus"}).chat["reasoning_effort"] == "high"
    assert len(chat["user"]) == 32 and "device_id" not in chat["user"]  # a stable digest, not the device ID
    assert translated({**CLAUDE_CODE, "metadata": {"user_id": "u-42"}}).chat["user"] == "u-42"
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}
    assert chat["max_tokens"] == 32000 and chat["temperature"] == 1
    assert request.dropped == ["cache_control", "system.x-anthropic-billing-header", "tool_search_tool_regex_20251119",
                               "context_management"]
    assert request.stream and request.model == MODEL and request.omit_thinking


@pytest.mark.parametrize("thinking, model, switches, dropped", [
    ({"type": "enabled", "budget_tokens": 4096}, "qwen/qwen-plus",
     {"enable_thinking": True, "thinking_budget": 4096}, []),
    ({"type": "adaptive"}, "qwen/qwen-plus", {"enable_thinking": True}, []),
    ({"type": "disabled"}, "qwen/qwen-plus", {"enable_thinking": False}, []),
    ({"type": "enabled", "budget_tokens": 4096}, "deepseek/deepseek-v4-flash", {"thinking": {"type": "enabled"}},
     ["thinking.budget_tokens"]),
    ({"type": "between_tools"}, "moonshot/kimi-k2.6", {"thinking": {"type": "disabled"}}, []),
    ({"type": "adaptive"}, "some-alias-without-provider", {}, ["thinking"]),
])
def test_thinking_becomes_the_switch_each_provider_understands(thinking, model, switches, dropped):
    body = {"model": model, "max_tokens": 8192, "thinking": thinking,
            "messages": [{"role": "user", "content": "hi"}]}
    request = translated(body)
    assert {k: v for k, v in request.chat.items() if k in ("thinking", "enable_thinking", "thinking_budget")} \
        == switches
    assert request.dropped == dropped


def test_tool_choice_and_output_format_map_to_chat():
    body = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "go"}], "tools": [READ_TOOL],
            "tool_choice": {"type": "tool", "name": "Read", "disable_parallel_tool_use": True},
            "stop_sequences": ["END"], "top_k": 5, "top_p": 0.9,
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}
    chat = translated(body).chat
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "Read"}}
    assert chat["parallel_tool_calls"] is False
    assert chat["stop"] == ["END"] and chat["top_k"] == 5 and chat["top_p"] == 0.9
    assert chat["response_format"]["json_schema"]["schema"] == {"type": "object"}
    for choice, expected in (({"type": "any"}, "required"), ({"type": "none"}, "none")):
        assert translated({**body, "tool_choice": choice}).chat["tool_choice"] == expected
    assert "tool_choice" not in translated({**body, "tools": [], "tool_choice": {"type": "auto"}}).chat


@pytest.mark.parametrize("change, param", [
    ({"model": None}, "model"),
    ({"max_tokens": None}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
    ({"messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]}, "messages.0.content.0.type"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}, "messages.0.content.0.tool_use_id"),
    ({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "x", "input": "[]"}]}]},
     "messages.0.content.0.input"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]},
     "messages.0.content.0.source.type"),
    ({"messages": [{"role": "user", "content": [{"type": "document", "source": {
        "type": "base64", "media_type": "application/pdf", "data": "JVBER"}}]}]}, "messages.0.content.0.source"),
    ({"temperature": 1.5}, "temperature"),
    ({"stop_sequences": ["a", "b", "c", "d", "e"]}, "stop_sequences"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0.type"),
    ({"tools": [{"name": "x"}]}, "tools.0.input_schema"),
    ({"tool_choice": {"type": "tool", "name": "missing"}}, "tool_choice.name"),
    ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
    ({"thinking": {"type": "sometimes"}}, "thinking.type"),
    ({"output_config": {"effort": "extreme"}}, "output_config.effort"),
    ({"mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "x"}]}, "mcp_servers"),
])
def test_bad_requests_name_the_field_in_anthropics_envelope(change, param):
    body = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **change}
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(GatewayError) as caught:
        translate_messages_request(body)
    error = caught.value
    assert (error.status, error.type, error.param) == (400, "invalid_request_error", param)
    assert error.message.startswith(f"{param}: ")
    envelope = ErrorResponse.model_validate(error_body(error, "req_42"))
    assert envelope.error.type == "invalid_request_error" and envelope.request_id == "req_42"


@pytest.mark.parametrize("error, status, kind", [
    (invalid_api_key(), 401, "authentication_error"),
    (GatewayError(402, "insufficient_credits", "Insufficient credits", "insufficient_quota"), 402, "billing_error"),
    (GatewayError(429, "rate_limit_exceeded", "Slow down", "rate_limit_error"), 429, "rate_limit_error"),
    (GatewayError(502, "provider_request_failed", "DeepSeek failed", "api_error", provider="deepseek"), 502,
     "api_error"),
])
def test_the_sdk_raises_its_own_error_class_on_our_envelope(error, status, kind):
    body = json.dumps(error_body(error, "req_7")).encode()
    client, _ = client_reading("anthropic", status, body, "application/json")
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == status
    assert caught.value.body["error"] == {**caught.value.body["error"], "type": kind, "code": error.code}
    assert caught.value.body["request_id"] == "req_7"


def completion(message: dict, finish: str, usage_=None) -> dict:
    return {"id": "chatcmpl-77", "object": "chat.completion", "created": 1780000000, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "refusal": None, **message}, "logprobs": None,
                         "finish_reason": finish}], "usage": usage_ or usage()}


def test_completion_becomes_an_anthropic_message_with_blocks_and_split_usage():
    body = completion({"content": "I'll read both.", "reasoning_content": "Two files.",
                       "tool_calls": [{"id": "call_1", "type": "function",
                                       "function": {"name": "Read", "arguments": '{"file_path": "a.py"}'}},
                                      {"id": "call_2", "type": "function",
                                       "function": {"name": "Read", "arguments": '{"file_path": "b.py"'}}]},
                      "tool_calls")
    message = Message.model_validate(message_from_completion(body))
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[0].thinking == "Two files." and message.content[0].signature
    assert message.content[2].input == {"file_path": "a.py"}
    assert message.content[3].input == {"_raw_arguments": '{"file_path": "b.py"'}
    assert message.stop_reason == "tool_use" and message.id == "msg_77" and message.model == MODEL
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) \
        == (20, 100, 40)
    assert message.usage.output_tokens_details.thinking_tokens == 12

    client, _ = client_reading("anthropic", 200, json.dumps(message_from_completion(body)).encode(), "application/json")
    parsed = client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert [block.type for block in parsed.content] == ["thinking", "text", "tool_use", "tool_use"]


@pytest.mark.parametrize("finish, stop_reason", [("stop", "end_turn"), ("length", "max_tokens"),
                                                 ("content_filter", "refusal")])
def test_finish_reasons_map_to_stop_reasons(finish, stop_reason):
    message = Message.model_validate(message_from_completion(completion({"content": "Hi"}, finish),
                                                             omit_thinking=True))
    assert message.stop_reason == stop_reason and message.content[0].text == "Hi"


def test_a_tool_loop_round_trips_through_the_sdks_own_message_param():
    answer = Message.model_validate(message_from_completion(completion(
        {"content": None, "reasoning_content": "Need the weather.",
         "tool_calls": [{"id": "call_9", "type": "function",
                         "function": {"name": "Read", "arguments": '{"file_path": "w.txt"}'}}]}, "tool_calls")))
    follow_up = {"model": MODEL, "max_tokens": 100, "tools": [READ_TOOL], "messages": [
        {"role": "user", "content": "Weather?"},
        json.loads(json.dumps(answer.to_param(), default=lambda o: o.model_dump())),
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_9", "content": "sunny"}]}]}
    messages = translated(follow_up).chat["messages"]
    assert messages[1] == {"role": "assistant", "content": None, "reasoning_content": "Need the weather.",
                           "tool_calls": [{"id": "call_9", "type": "function",
                                           "function": {"name": "Read", "arguments": '{"file_path": "w.txt"}'}}]}
    assert messages[2] == {"role": "tool", "tool_call_id": "call_9", "content": "sunny"}


def streamed(chunks, **kwargs) -> bytes:
    events = MessageEvents(MODEL, request_id="req_s", **kwargs)
    return b"".join(drive(chunks, events))


def checked_events(raw: bytes) -> list:
    """Every event validated by the SDK's union type; the SSE event name always equals the data's type."""
    out = []
    for name, data in sse_events(raw):
        assert name == data["type"]
        if name not in ("ping", "error"):
            out.append(EVENT.validate_python(data))
    return out


def final_message(raw: bytes) -> Message:
    client, sent = client_reading("anthropic", 200, raw)
    with client.messages.stream(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "x"}]) as stream:
        return stream.get_final_message()


def test_reasoning_text_and_two_tool_calls_stream_as_blocks_the_sdk_accumulates():
    raw = streamed(relay_chunks(reasoning_text_tools((("call_a", "Read", '{"file_path": "a.py"}'),
                                                      ("call_b", "Read", '{"file_path": "b.py"}')))) + ["[DONE]"])
    events = checked_events(raw)
    assert [e.type for e in events][:3] == ["message_start", "content_block_start", "content_block_delta"]
    starts = [e.content_block.type for e in events if e.type == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use", "tool_use"]
    assert [e.index for e in events if e.type == "content_block_stop"] == [0, 1, 2, 3]
    assert [e.delta.type for e in events if e.type == "content_block_delta" and e.index == 0] \
        == ["thinking_delta", "thinking_delta", "signature_delta"]
    assert [e.type for e in events][-2:] == ["message_delta", "message_stop"]
    assert b"event: ping" in raw

    message = final_message(raw)
    assert message.content[0].thinking == "Let me look." and message.content[0].signature.startswith("ethergate.")
    assert message.content[1].text == "Reading the files."
    assert [(b.id, b.input) for b in message.content[2:]] == [("call_a", {"file_path": "a.py"}),
                                                              ("call_b", {"file_path": "b.py"})]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) \
        == (20, 100, 40)


def test_plain_text_stream_reads_with_create_stream_true():
    chunks = relay_chunks([provider_chunk({"role": "assistant", "content": "Hel"}), provider_chunk({"content": "lo"}),
                           provider_chunk({}, "length", usage(10, 2, 0, 0))]) + ["[DONE]"]
    client, sent = client_reading("anthropic", 200, streamed(chunks, input_tokens=9))
    events = list(client.messages.create(model=MODEL, max_tokens=2, stream=True,
                                         messages=[{"role": "user", "content": "hi"}]))
    assert events[0].message.usage.input_tokens == 9  # the pipeline's estimate until the provider reports
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == "Hello"
    delta = next(e for e in events if e.type == "message_delta")
    assert delta.delta.stop_reason == "max_tokens" and delta.usage.output_tokens == 2
    assert delta.usage.input_tokens == 10


def test_a_stream_cut_midway_ends_in_an_error_event_the_sdk_raises():
    chunks = relay_chunks([provider_chunk({"role": "assistant", "content": "Partial"})])
    cut = {"error": {"message": "deepseek: the provider closed the stream before it finished", "type": "api_error",
                     "code": "provider_request_failed", "provider": "deepseek", "request_id": "req_s"}}
    for tail in ([cut], []):  # the relay's error event, or the chunks simply ending
        raw = streamed(chunks + tail)
        name, data = sse_events(raw)[-1]
        assert name == "error" and ErrorResponse.model_validate(data).error.type == "api_error"
        assert data["error"]["code"] == "provider_request_failed" and data["request_id"] == "req_s"
        client, _ = client_reading("anthropic", 200, raw)
        with pytest.raises(anthropic.APIStatusError, match="closed the stream"):
            final_message(raw)


def test_late_tool_name_and_omitted_thinking_still_make_valid_blocks():
    upstream = [provider_chunk({"role": "assistant", "reasoning_content": "secret plan"}),
                provider_chunk({"tool_calls": [{"index": 0, "id": "call_x", "type": "function",
                                                "function": {"arguments": '{"q":'}}]}),
                provider_chunk({"tool_calls": [{"index": 0, "function": {"name": "Search", "arguments": ' "x"}'}}]}),
                provider_chunk({}, "tool_calls", usage())]
    raw = streamed(relay_chunks(upstream) + ["[DONE]"], omit_thinking=True)
    checked_events(raw)
    assert b"secret plan" not in raw
    message = final_message(raw)
    assert message.content[0].thinking == "" and message.content[0].signature
    assert (message.content[1].name, message.content[1].input) == ("Search", {"q": "x"})
    # Sent back as Claude Code does, the hidden reasoning returns to the provider from our signature.
    follow_up = {"model": MODEL, "max_tokens": 100, "messages": [
        {"role": "user", "content": "find x"},
        json.loads(json.dumps(message.to_param(), default=lambda o: o.model_dump())),
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_x", "content": "found"}]}]}
    assert translated(follow_up).chat["messages"][1]["reasoning_content"] == "secret plan"


@pytest.mark.parametrize("signature", ["ethergate.z.not-base64!!", "ethergate.z." + "A" * 40, "EqQBCgIYAhIM1gbcDa",
                                       "ethergate.z." + __import__("base64").urlsafe_b64encode(
                                           __import__("zlib").compress(b"x" * (5 * 1024 * 1024))).decode()])
def test_foreign_or_broken_signatures_carry_nothing(signature):
    body = {"model": MODEL, "max_tokens": 10, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": signature},
                                          {"type": "text", "text": "hello"}]},
        {"role": "user", "content": "again"}]}
    assert "reasoning_content" not in translated(body).chat["messages"][1]


def test_keepalive_is_a_ping_and_nothing_follows_the_end():
    events = MessageEvents(MODEL)
    assert events.keepalive() == b'event: ping\ndata: {"type":"ping"}\n\n'
    events.finish(usage={"prompt_tokens": 5, "completion_tokens": 1})
    assert events.keepalive() == b"" and events.feed(relay_chunks([provider_chunk({"content": "x"})])[0]) == b""


def test_count_tokens_is_an_estimate_in_the_sdks_shape():
    english = {"model": MODEL, "messages": [{"role": "user", "content": "word " * 1000}]}
    chinese = {"model": MODEL, "messages": [{"role": "user", "content": "你好" * 500}]}
    counted = MessageTokensCount.model_validate(count_tokens(english)).input_tokens
    assert 1500 < counted < 1600  # 5,000 ASCII characters at 0.3 tokens each, plus template overhead
    assert 600 < count_tokens(chinese)["input_tokens"] < 650
    client, sent = client_reading("anthropic", 200, json.dumps(count_tokens(english)).encode(), "application/json")
    assert client.messages.count_tokens(**english).input_tokens == counted
    assert translated({**sent[0], "max_tokens": 1}).chat["messages"] == [english["messages"][0]]  # what the SDK sent
    with_tools = count_tokens({**english, "tools": [READ_TOOL]})["input_tokens"]
    assert with_tools > counted + 512
    with pytest.raises(GatewayError):
        count_tokens({"model": MODEL, "messages": []})


def test_dropped_names_from_client_keys_cannot_split_or_forge_a_header():
    body = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
            "evil,key\r\nX-Injected: 1": True, "metadata": {"trace id": "t"}}
    dropped = translated(body).dropped
    assert dropped == ["metadata.trace_id", "evil_key__X-Injected:_1"]
    assert all(name.isprintable() and "," not in name for name in dropped)


def test_billed_usage_fills_in_when_the_provider_reported_none():
    body = completion({"content": "Hi"}, "stop")
    del body["usage"]
    message = Message.model_validate(message_from_completion(body, usage={"prompt_tokens": 30, "completion_tokens": 2}))
    assert (message.usage.input_tokens, message.usage.output_tokens) == (30, 2)


def test_tool_names_past_chats_64_characters_are_shortened_and_given_back():
    long_name = "mcp__acme-observability-platform__list_recent_deployments_for_service_with_filters"
    assert 64 < len(long_name) <= 128
    tool = {**READ_TOOL, "name": long_name}
    body = {"model": MODEL, "max_tokens": 100, "tools": [tool], "tool_choice": {"type": "tool", "name": long_name},
            "messages": [{"role": "user", "content": "go"},
                         {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": long_name,
                                                            "input": {}}]},
                         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]}
    request = translated(body)
    sent = request.chat["tools"][0]["function"]["name"]
    assert len(sent) == 64 and sent.startswith("mcp__acme") and request.tool_names == {sent: long_name}
    assert request.chat["messages"][1]["tool_calls"][0]["function"]["name"] == sent
    assert request.chat["tool_choice"]["function"]["name"] == sent

    answer = completion({"content": None, "tool_calls": [{"id": "call_l", "type": "function",
                                                          "function": {"name": sent, "arguments": "{}"}}]},
                        "tool_calls")
    assert Message.model_validate(message_from_completion(answer, tool_names=request.tool_names)).content[0].name \
        == long_name
    chunks = relay_chunks([provider_chunk({"role": "assistant", "tool_calls": [
        {"index": 0, "id": "call_l", "type": "function", "function": {"name": sent, "arguments": "{}"}}]}),
        provider_chunk({}, "tool_calls", usage())]) + ["[DONE]"]
    raw = b"".join(drive(chunks, MessageEvents(MODEL, tool_names=request.tool_names)))
    assert final_message(raw).content[0].name == long_name
