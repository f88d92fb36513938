"""The Responses surface's translation, proven against the official openai SDK's own types and parsers."""
import copy
import json

import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from ethergate.gateway.errors import GatewayError, invalid_api_key
from ethergate.gateway.responses import ResponseEvents, error_body, response_from_completion, translate_responses_request
from ethergate.gateway.validation import validate_chat_request
from tests.gateway.surface_helpers import (client_reading, drive, provider_chunk, reasoning_text_tools, relay_chunks,
                                           sse_events, usage)

MODEL = "deepseek/deepseek-v4-flash"
EVENT = TypeAdapter(ResponseStreamEvent)
SHELL = {"type": "function", "name": "shell", "description": "Runs a shell command", "strict": False,
         "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                        "required": ["command"]}}
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5"
         "ErkJggg==")

# Shaped like a Codex turn: developer context, a reasoning item with encrypted content, a shell call and
# its output, hosted and custom tools beside the function tool, store false, include, cache key.
CODEX = {
    "model": MODEL, "instructions": "You are Codex, a coding agent.", "stream": True, "store": False,
    "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions/>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list the files"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Run ls"}],
         "content": [{"type": "reasoning_text", "text": "I should run ls."}], "encrypted_content": "gAAAAB"},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell",
         "arguments": "{\"command\":[\"ls\"]}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "a.py\nb.py"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Two files."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "what is this?"},
                                                        {"type": "input_image", "image_url": PIXEL}]},
    ],
    "tools": [SHELL, {"type": "web_search", "external_web_access": False},
              {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark",
                                                                   "definition": "start: /.+/"}}],
    "tool_choice": "auto", "parallel_tool_calls": False,
    "reasoning": {"effort": "medium", "summary": "auto"},
    "include": ["reasoning.encrypted_content"], "prompt_cache_key": "9f8e", "text": {"verbosity": "low"},
    "client_metadata": {"thread_id": "t-1"},
}


def translated(body, **kwargs):
    request = translate_responses_request(body, **kwargs)
    validate_chat_request(copy.deepcopy(request.chat))  # the pipeline's own check accepts every produced body
    return request


def test_codex_turn_becomes_a_chat_request_with_every_extra_decided():
    request = translated(CODEX)
    chat = request.chat
    assert chat["messages"] == [
        {"role": "system", "content": "You are Codex, a coding agent."},
        {"role": "system", "content": "<permissions/>"},
        {"role": "user", "content": "list the files"},
        {"role": "assistant", "content": None, "reasoning_content": "I should run ls.",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a.py\nb.py"},
        {"role": "assistant", "content": "Two files."},
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url", "image_url": {"url": PIXEL}}]},
    ]
    assert chat["tools"] == [{"type": "function", "function": {k: v for k, v in SHELL.items() if k != "type"}}]
    assert chat["tool_choice"] == "auto" and chat["parallel_tool_calls"] is False
    assert chat["reasoning_effort"] == "medium" and chat["thinking"] == {"type": "enabled"}
    assert chat["stream_options"] == {"include_usage": True}
    assert request.dropped == ["reasoning.encrypted_content", "tools:web_search", "tools:custom", "reasoning.summary",
                               "text.verbosity", "prompt_cache_key", "client_metadata",
                               "include:reasoning.encrypted_content"]


def test_string_input_and_settings_map_to_chat():
    body = {"model": "qwen/qwen-plus", "input": "Hello", "max_output_tokens": 300, "temperature": 0.2, "top_p": 0.5,
            "reasoning": {"effort": "none"}, "user": "u-1", "metadata": {"ticket": "42"},
            "text": {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"},
                                "strict": True}}}
    request = translated(body)
    chat = request.chat
    assert chat["messages"] == [{"role": "user", "content": "Hello"}]
    assert (chat["max_tokens"], chat["temperature"], chat["top_p"], chat["user"]) == (300, 0.2, 0.5, "u-1")
    assert chat["enable_thinking"] is False and "reasoning_effort" not in chat
    assert chat["response_format"]["json_schema"]["name"] == "answer"
    assert "metadata" not in chat and request.echo["metadata"] == {"ticket": "42"} and request.dropped == []


def test_allowed_tools_narrow_the_tools_and_a_function_choice_is_forced():
    other = {**SHELL, "name": "read"}
    body = {"model": MODEL, "input": "go", "tools": [SHELL, other],
            "tool_choice": {"type": "allowed_tools", "mode": "required",
                            "tools": [{"type": "function", "name": "read"}]}}
    chat = translated(body).chat
    assert [t["function"]["name"] for t in chat["tools"]] == ["read"] and chat["tool_choice"] == "required"
    forced = translated({**body, "tool_choice": {"type": "function", "name": "shell"}}).chat
    assert forced["tool_choice"] == {"type": "function", "function": {"name": "shell"}}


@pytest.mark.parametrize("change, param", [
    ({"model": None}, "model"),
    ({"input": []}, "input"),
    ({"input": 5}, "input"),
    ({"store": True}, "store"),
    ({"previous_response_id": "resp_1"}, "previous_response_id"),
    ({"conversation": "conv_1"}, "conversation"),
    ({"background": True}, "background"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, "input[0].content[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
     "input[0].content[0].image_url"),
    ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
    ({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]}, "input[0].arguments"),
    ({"max_output_tokens": 0}, "max_output_tokens"),
    ({"temperature": 3}, "temperature"),
    ({"tools": [{"type": "function"}]}, "tools[0].name"),
    ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
    ({"tool_choice": {"type": "function", "name": "nope"}}, "tool_choice.name"),
    ({"reasoning": {"effort": "ludicrous"}}, "reasoning.effort"),
    ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
    ({"include": "reasoning.encrypted_content"}, "include"),
])
def test_bad_requests_name_the_field_in_openais_envelope(change, param):
    body = {k: v for k, v in {"model": MODEL, "input": "hi", **change}.items() if v is not None}
    with pytest.raises(GatewayError) as caught:
        translate_responses_request(body)
    error = caught.value
    assert (error.status, error.type, error.param) == (400, "invalid_request_error", param)
    client, _ = client_reading("openai", 400, json.dumps(error_body(error, "req_3")).encode(), "application/json")
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model=MODEL, input="hi")
    assert raised.value.param == param and raised.value.body["request_id"] == "req_3"


def test_gateway_errors_reach_the_sdk_as_its_own_classes():
    for error, kind in ((invalid_api_key(), openai.AuthenticationError),
                        (GatewayError(429, "rate_limit_exceeded", "Slow down", "rate_limit_error"),
                         openai.RateLimitError)):
        client, _ = client_reading("openai", error.status, json.dumps(error_body(error, "r")).encode(),
                                   "application/json")
        with pytest.raises(kind) as raised:
            client.responses.create(model=MODEL, input="hi")
        assert raised.value.code == error.code


def completion(message: dict, finish: str) -> dict:
    return {"id": "chatcmpl-55", "object": "chat.completion", "created": 1780000000, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "refusal": None, **message}, "logprobs": None,
                         "finish_reason": finish}], "usage": usage()}


def test_completion_becomes_a_response_the_sdk_reads():
    request = translated({**CODEX, "stream": False})
    body = response_from_completion(completion(
        {"content": "Running it.", "reasoning_content": "ls again",
         "tool_calls": [{"id": "call_7", "type": "function",
                         "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]},
        "tool_calls"), request)
    response = Response.model_validate(body)
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    assert response.output[0].content[0].text == "ls again"
    assert response.output_text == "Running it." and response.status == "completed"
    assert (response.output[2].call_id, response.output[2].name) == ("call_7", "shell")
    assert (response.usage.input_tokens, response.usage.input_tokens_details.cached_tokens,
            response.usage.output_tokens, response.usage.output_tokens_details.reasoning_tokens) == (120, 100, 40, 12)
    assert response.store is False and response.parallel_tool_calls is False and response.id == "resp_55"
    assert response.tools[0].name == "shell" and response.instructions == CODEX["instructions"]

    client, sent = client_reading("openai", 200, json.dumps(body).encode(), "application/json")
    assert client.responses.create(model=MODEL, input="hi").output_text == "Running it."

    cut = Response.model_validate(response_from_completion(completion({"content": "Partial"}, "length"), request))
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"


def test_a_function_call_loop_round_trips_through_the_sdks_own_items():
    request = translated({"model": MODEL, "input": "files?", "tools": [SHELL]})
    first = Response.model_validate(response_from_completion(completion(
        {"content": None, "reasoning_content": "use shell",
         "tool_calls": [{"id": "call_8", "type": "function", "function": {"name": "shell",
                                                                          "arguments": "{\"command\":[\"ls\"]}"}}]},
        "tool_calls"), request))
    follow_up = {"model": MODEL, "tools": [SHELL], "input": [
        {"role": "user", "content": "files?"},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": "call_8",
         "output": [{"type": "input_text", "text": "a.py"}, {"type": "input_image", "image_url": PIXEL}]}]}
    messages = translated(follow_up).chat["messages"]
    assert messages[1] == {"role": "assistant", "content": None, "reasoning_content": "use shell",
                           "tool_calls": [{"id": "call_8", "type": "function",
                                           "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]}
    assert messages[2] == {"role": "tool", "tool_call_id": "call_8", "content": "a.py"}
    assert messages[3]["role"] == "user" and messages[3]["content"][1]["type"] == "image_url"


def streamed(chunks, body=None) -> bytes:
    request = translated(body or {"model": MODEL, "input": "hi", "tools": [SHELL], "stream": True})
    return b"".join(drive(chunks, ResponseEvents(request, request_id="req_r")))


def checked_events(raw: bytes) -> list:
    """Every event validated by the SDK's union; names match types; sequence numbers count 0, 1, 2, ..."""
    events = []
    for name, data in sse_events(raw):
        assert name == data["type"]
        events.append(EVENT.validate_python(data))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    return events


def test_reasoning_text_and_two_calls_stream_as_items_the_sdk_accumulates():
    raw = streamed(relay_chunks(reasoning_text_tools((("call_a", "shell", '{"command":["ls"]}'),
                                                      ("call_b", "shell", '{"command":["pwd"]}')))) + ["[DONE]"])
    events = checked_events(raw)
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"] and types[-1] == "response.completed"
    assert [e.item.type for e in events if e.type == "response.output_item.added"] \
        == ["reasoning", "message", "function_call", "function_call"]
    assert types.count("response.output_item.done") == 4 and types.count("response.function_call_arguments.done") == 2
    assert "response.output_text.delta" in types and "response.reasoning_text.delta" in types
    assert "response.content_part.added" in types and "response.output_text.done" in types

    client, _ = client_reading("openai", 200, raw)
    with client.responses.stream(model=MODEL, input="hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Reading the files."
    assert [(i.call_id, i.arguments) for i in final.output if i.type == "function_call"] \
        == [("call_a", '{"command":["ls"]}'), ("call_b", '{"command":["pwd"]}')]
    assert final.output[0].content[0].text == "Let me look."
    assert final.usage.input_tokens == 120 and final.usage.output_tokens_details.reasoning_tokens == 12

    client, _ = client_reading("openai", 200, raw)
    deltas = [e.delta for e in client.responses.create(model=MODEL, input="hi", stream=True)
              if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Reading the files."


def test_length_ends_in_response_incomplete():
    raw = streamed(relay_chunks([provider_chunk({"role": "assistant", "content": "Cut"}),
                                 provider_chunk({}, "length", usage(5, 1, 0, 0))]) + ["[DONE]"])
    last = checked_events(raw)[-1]
    assert last.type == "response.incomplete" and last.response.incomplete_details.reason == "max_output_tokens"


def test_a_stream_cut_midway_ends_in_error_and_response_failed():
    chunks = relay_chunks([provider_chunk({"role": "assistant", "content": "Partial"})])
    cut = {"error": {"message": "qwen: the provider closed the stream before it finished", "type": "api_error",
                     "code": "provider_request_failed", "provider": "qwen", "request_id": "req_r"}}
    for tail in ([cut], []):
        events = checked_events(streamed(chunks + tail))
        assert [e.type for e in events[-2:]] == ["error", "response.failed"]
        assert events[-2].code == "provider_request_failed"
        failed = events[-1].response
        assert failed.status == "failed" and failed.error.code == "server_error"
        assert "closed the stream" in failed.error.message
        assert failed.output[0].status == "incomplete" and failed.output[0].content[0].text == "Partial"


def test_late_tool_name_is_held_until_known_and_keepalive_is_a_comment():
    upstream = [provider_chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_z", "type": "function",
                                                                     "function": {"arguments": '{"command":'}}]}),
                provider_chunk({"tool_calls": [{"index": 0, "function": {"name": "shell", "arguments": '["ls"]}'}}]}),
                provider_chunk({}, "tool_calls", usage())]
    events = ResponseEvents(translated({"model": MODEL, "input": "hi", "tools": [SHELL]}))
    assert events.keepalive() == b": keep-alive\n\n"
    raw = b"".join(drive(relay_chunks(upstream) + ["[DONE]"], events))
    added = [e for e in checked_events(raw) if e.type == "response.output_item.added"]
    assert len(added) == 1 and added[0].item.name == "shell"
    client, _ = client_reading("openai", 200, raw)
    with client.responses.stream(model=MODEL, input="hi") as stream:
        assert stream.get_final_response().output[0].arguments == '{"command":["ls"]}'


def test_items_are_added_empty_so_accumulators_do_not_double_them():
    raw = streamed(relay_chunks(reasoning_text_tools()) + ["[DONE]"])
    added = [e.item for e in checked_events(raw) if e.type == "response.output_item.added"]
    assert added[0].content == [] and added[1].content == [] and added[2].arguments == ""
    client, _ = client_reading("openai", 200, raw)
    with client.responses.stream(model=MODEL, input="hi") as stream:
        events = list(stream)
    texts = [e.snapshot for e in events if e.type == "response.output_text.delta"]
    arguments = [e.snapshot for e in events if e.type == "response.function_call_arguments.delta"]
    assert texts[-1] == "Reading the files." and arguments[-1] == '{"path": "a.py"}'


def test_billed_usage_fills_in_when_the_provider_reported_none():
    body = completion({"content": "Hi"}, "stop")
    del body["usage"]
    request = translated({"model": MODEL, "input": "hi"})
    response = Response.model_validate(response_from_completion(body, request, usage={"prompt_tokens": 30,
                                                                                      "completion_tokens": 2}))
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (30, 2, 32)


@pytest.mark.parametrize("model, effort, sent, switch", [
    ("moonshot/kimi-k2.6", "max", "high", True), ("moonshot/kimi-k2.6", "xhigh", "high", True),
    ("moonshot/kimi-k2.6", "minimal", "low", True), ("moonshot/kimi-k2.6", "none", None, False),
    ("deepseek/deepseek-v4-pro", "max", "max", True), ("deepseek/deepseek-v4-pro", "minimal", "minimal", True),
])
def test_every_effort_the_sdk_knows_maps_to_a_level_and_a_switch(model, effort, sent, switch):
    chat = translated({"model": model, "input": "hi", "reasoning": {"effort": effort}}).chat
    assert chat.get("reasoning_effort") == sent
    assert chat["thinking"] == {"type": "enabled" if switch else "disabled"}


def test_input_token_count_reads_as_the_sdks_count_response():
    from ethergate.gateway.responses import count_input_tokens
    body = count_input_tokens({"input": "word " * 1000, "instructions": "Be brief.", "tools": [SHELL]})
    client, sent = client_reading("openai", 200, json.dumps(body).encode(), "application/json")
    counted = client.responses.input_tokens.count(model=MODEL, input="word " * 1000)
    assert counted.object == "response.input_tokens" and counted.input_tokens == body["input_tokens"]
    assert 1500 + 512 < counted.input_tokens < 1700 + 512


AGENTS = {"type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents.",
          "tools": [{**SHELL, "name": "spawn_agent"}, {**SHELL, "name": "close_agent"}]}


def test_namespaced_tools_are_flattened_and_calls_split_back():
    request = translated({"model": MODEL, "input": "go", "tools": [SHELL, AGENTS], "stream": True})
    assert [t["function"]["name"] for t in request.chat["tools"]] \
        == ["shell", "multi_agent_v1__spawn_agent", "multi_agent_v1__close_agent"]
    assert request.dropped == []

    answer = {"content": None, "tool_calls": [{"id": "call_s", "type": "function", "function": {
        "name": "multi_agent_v1__spawn_agent", "arguments": "{\"command\":[\"x\"]}"}}]}
    response = Response.model_validate(response_from_completion(completion(answer, "tool_calls"), request))
    call = response.output[0]
    assert (call.name, call.namespace, call.call_id) == ("spawn_agent", "multi_agent_v1", "call_s")
    assert response.tools[1].type == "namespace"

    raw = streamed(relay_chunks([provider_chunk({"role": "assistant", "tool_calls": [
        {"index": 0, "id": "call_s", "type": "function",
         "function": {"name": "multi_agent_v1__close_agent", "arguments": "{}"}}]}),
        provider_chunk({}, "tool_calls", usage())]) + ["[DONE]"], {"model": MODEL, "input": "go", "tools": [AGENTS]})
    done = [e.item for e in checked_events(raw) if e.type == "response.output_item.done"]
    assert (done[0].name, done[0].namespace) == ("close_agent", "multi_agent_v1")

    follow_up = {"model": MODEL, "tools": [AGENTS], "input": [
        {"role": "user", "content": "go"}, call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": "call_s", "output": "spawned"}]}
    assert translated(follow_up).chat["messages"][1]["tool_calls"][0]["function"]["name"] \
        == "multi_agent_v1__spawn_agent"


def test_long_function_names_are_shortened_and_given_back():
    long_name = "x" * 70
    request = translated({"model": MODEL, "input": "go", "tools": [{**SHELL, "name": long_name}],
                          "tool_choice": {"type": "function", "name": long_name}})
    sent = request.chat["tools"][0]["function"]["name"]
    assert len(sent) == 64 and request.chat["tool_choice"]["function"]["name"] == sent
    answer = completion({"content": None, "tool_calls": [{"id": "c", "type": "function",
                                                          "function": {"name": sent, "arguments": "{}"}}]},
                        "tool_calls")
    item = Response.model_validate(response_from_completion(answer, request)).output[0]
    assert (item.name, item.namespace) == (long_name, None)
    follow_up = translated({"model": MODEL, "tools": [{**SHELL, "name": long_name}], "input": [
        item.model_dump(exclude_none=True), {"type": "function_call_output", "call_id": "c", "output": "ok"}]})
    assert follow_up.chat["messages"][0]["tool_calls"][0]["function"]["name"] == sent


@pytest.mark.parametrize("item", [{"role": ["user"], "content": "hi"}, {"type": ["message"], "content": "hi"},
                                  {"type": {"a": 1}}])
def test_an_unhashable_role_or_type_is_a_400_not_a_500(item):
    with pytest.raises(GatewayError) as caught:
        translate_responses_request({"model": "qwen/qwen-plus", "input": [item]})
    assert caught.value.status == 400 and caught.value.param.startswith("input[0].")
