"""Chat request validation: real client payloads pass untouched, every bad field is named in `param`."""
import copy
import json
import time

import pytest

from ethergate.catalog.snapshot import ModelInfo, PriceRow, RouteInfo
from ethergate.gateway.errors import GatewayError
from ethergate.gateway.validation import ChatRequest, apply_model_policy, validate_chat_request

USER = {"role": "user", "content": "Write a launch checklist"}
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TOOL_CALL = {"id": "call_abc123", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Hangzhou\"}"}}
PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def body(*messages, **fields) -> dict:
    request = {"model": "qwen/qwen-plus", "messages": list(messages) or [USER]}
    request.update(fields)
    return request


def refused(request) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        validate_chat_request(request)
    error = caught.value
    assert error.status == 400 and error.type == "invalid_request_error"
    return error


# What clients really send. The docs' three examples, the openai SDK, LangChain-style agent loops, and the
# provider extras EtherGate must forward untouched.
AGENT_LOOP = [
    {"role": "system", "content": "You are a helpful assistant. Use tools when needed."},
    {"role": "user", "content": "What's the weather in Hangzhou and Beijing?"},
    {"role": "assistant", "content": "", "tool_calls": [
        TOOL_CALL,
        {"id": "call_def456", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Beijing\"}"}}]},
    {"role": "tool", "content": "{\"temp_c\": 21}", "tool_call_id": "call_abc123"},
    {"role": "tool", "content": "{\"temp_c\": 12}", "tool_call_id": "call_def456"},
    {"role": "assistant", "content": "Hangzhou is 21°C and Beijing is 12°C."},
    {"role": "user", "content": "Thanks!"},
]

GOOD = {
    "docs-python": {"model": "deepseek/deepseek-v4-flash",
                    "messages": [{"role": "user", "content": "Write a concise launch checklist"}]},
    "docs-node": {"model": "qwen/qwen-plus", "messages": [
        {"role": "system", "content": "You are a concise launch assistant."},
        {"role": "user", "content": "Write an onboarding email for developers."}], "stream": False},
    "docs-stream": {"model": "qwen/qwen-plus", "stream": True,
                    "messages": [{"role": "user", "content": "Draft a product changelog"}]},
    "langchain-agent": {"model": "deepseek/deepseek-v4-flash", "messages": AGENT_LOOP, "tools": [WEATHER_TOOL],
                        "stream": True, "stream_options": {"include_usage": True}, "n": 1, "temperature": 0.7,
                        "parallel_tool_calls": True},
    "assistant-null-content-with-tool-calls": body(
        USER, {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call_abc123", "content": [{"type": "text", "text": "21C"}]},
        tools=[WEATHER_TOOL], tool_choice="auto"),
    "legacy-function-call-history": body(
        USER, {"role": "assistant", "content": None,
               "function_call": {"name": "get_weather", "arguments": "{}"}}, USER),
    "parts-text-and-images": body({"role": "user", "content": [
        {"type": "text", "text": "What is in these pictures?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": PIXEL}}]}),
    "parts-audio-and-file": body({"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}}]}),
    "kimi-video-part-forwarded": body({"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}},
        {"type": "text", "text": "Summarise the clip"}]}),
    "system-and-developer-text-parts": body(
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}], "name": "ops"},
        {"role": "developer", "content": "Answer in Chinese."}, USER),
    "assistant-refusal-part": body(
        USER, {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't help with that."}]}, USER),
    "deepseek-prefix-and-reasoning": body(
        USER, {"role": "assistant", "content": "```python\n", "prefix": True, "reasoning_content": "Plan..."}),
    "empty-string-content": body({"role": "user", "content": ""}),
    "every-sampling-field": body(
        temperature=2, top_p=0, presence_penalty=-2, frequency_penalty=2.0, max_tokens=1, n=128,
        seed=-(2 ** 63), stop=["\n\n", "END", "###", "Q:"], user="user-1234", logprobs=True, top_logprobs=20,
        logit_bias={"50256": -100, "1234": 99.5}),
    "structured-output": body(response_format={"type": "json_schema", "json_schema": {
        "name": "launch_plan", "strict": True, "description": "A plan",
        "schema": {"type": "object", "properties": {"steps": {"type": "array"}}}}}),
    "json-object": body(response_format={"type": "json_object"}),
    "text-format-and-stop-string": body(response_format={"type": "text"}, stop="END"),
    "named-tool-choice": body(tools=[WEATHER_TOOL, {"type": "function", "function": {"name": "get-time_v2"}}],
                              tool_choice={"type": "function", "function": {"name": "get-time_v2"}}),
    "tool-choice-required-strict-tool": body(
        tools=[{"type": "function", "function": {**WEATHER_TOOL["function"], "strict": True}}],
        tool_choice="required"),
    "openai-extras": body(metadata={"team": "growth"}, store=False, service_tier="auto", reasoning_effort="high",
                          modalities=["text"], prediction={"type": "content", "content": "draft"},
                          web_search_options={}, verbosity="low", prompt_cache_key="k1",
                          safety_identifier="u1", audio={"voice": "alloy", "format": "wav"}),
    "provider-extras-forwarded": body(enable_thinking=True, thinking={"type": "disabled"}, top_k=20,
                                      enable_search=True, partial_mode=None),
    "nulls-mean-absent": body(temperature=None, top_p=None, stop=None, tools=None, tool_choice=None, n=None,
                              stream=None, stream_options=None, max_tokens=None, seed=None, logprobs=None,
                              top_logprobs=None, response_format=None, user=None),
    "max-tokens-both-equal": body(max_tokens=512, max_completion_tokens=512),
    "legacy-functions-forwarded": body(functions=[{"name": "get_weather", "parameters": {}}],
                                       function_call="auto"),
    "unicode-model-content": body({"role": "user", "content": "你好，帮我写一份发布清单 🚀"}),
}


@pytest.mark.parametrize("request_body", GOOD.values(), ids=GOOD.keys())
def test_real_payloads_are_accepted_and_forwarded_unchanged(request_body):
    sent = copy.deepcopy(request_body)
    chat = validate_chat_request(request_body)
    assert request_body == sent, "validation must not modify the body"
    assert chat.model == sent["model"]
    assert chat.messages == sent["messages"]
    assert chat.params == {k: v for k, v in sent.items() if k not in ("model", "stream", "stream_options")}
    assert chat.stream is bool(sent.get("stream"))
    assert chat.tools == sent.get("tools")
    json.dumps(chat.params, allow_nan=False)  # forwardable as strict JSON


def test_chat_request_fields():
    chat = validate_chat_request(body(stream=True, stream_options={"include_usage": True},
                                      max_completion_tokens=300, tools=[WEATHER_TOOL]))
    assert isinstance(chat, ChatRequest)
    assert (chat.stream, chat.include_usage, chat.max_tokens, chat.tools) == (True, True, 300, [WEATHER_TOOL])
    assert chat.params == {"messages": [USER], "max_completion_tokens": 300, "tools": [WEATHER_TOOL]}
    with pytest.raises(AttributeError):
        chat.model = "other"


@pytest.mark.parametrize("fields,expected", [
    ({}, None), ({"max_tokens": 100}, 100), ({"max_completion_tokens": 200}, 200),
    ({"max_tokens": 64, "max_completion_tokens": 64}, 64), ({"max_tokens": None, "max_completion_tokens": 7}, 7),
])
def test_max_tokens_comes_from_either_field(fields, expected):
    assert validate_chat_request(body(**fields)).max_tokens == expected


@pytest.mark.parametrize("fields,include_usage", [
    ({"stream": True}, False), ({"stream": True, "stream_options": {"include_usage": True}}, True),
    ({"stream": True, "stream_options": {"include_usage": False}}, False),
    ({"stream": True, "stream_options": {}}, False), ({"stream": False}, False),
])
def test_include_usage_reflects_stream_options(fields, include_usage):
    assert validate_chat_request(body(**fields)).include_usage is include_usage


def test_openai_sdk_requests_pass(request):
    """Bodies exactly as the openai Python SDK serialises them."""
    import httpx2 as httpx  # the HTTP library this openai release is built on
    import openai
    sent: list[dict] = []

    def reply(http_request):
        sent.append(json.loads(http_request.content))
        return httpx.Response(200, json={
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]})

    client = openai.OpenAI(api_key="cr_test", base_url="http://gateway.invalid/v1", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(reply)))
    request.addfinalizer(client.close)
    create = client.chat.completions.create
    create(model="deepseek/deepseek-v4-flash", messages=[{"role": "user", "content": "hi"}])
    create(model="qwen/qwen-plus", messages=AGENT_LOOP, tools=[WEATHER_TOOL], tool_choice="auto",
           parallel_tool_calls=False, max_completion_tokens=256, temperature=0.3, seed=7, stop=["END"],
           extra_body={"enable_thinking": False})
    create(model="qwen/qwen-plus", messages=[{"role": "user", "content": [
        {"type": "text", "text": "Describe"}, {"type": "image_url", "image_url": {"url": PIXEL}}]}],
        response_format={"type": "json_schema", "json_schema": {"name": "caption", "schema": {"type": "object"}}},
        max_tokens=100, logprobs=True, top_logprobs=3, user="u-1", metadata={"a": "b"}, reasoning_effort="low")
    assert len(sent) == 3
    for payload in sent:
        chat = validate_chat_request(payload)
        assert chat.params == {k: v for k, v in payload.items() if k not in ("model", "stream", "stream_options")}
    assert validate_chat_request(sent[1]).max_tokens == 256
    assert validate_chat_request(sent[1]).params["enable_thinking"] is False


def test_body_must_be_an_object():
    for value in ([], "hello", 3, None, True, [{"model": "x"}]):
        error = refused(value)
        assert error.message == "request body must be a JSON object" and error.param is None


BAD = [
    # model
    ("model-missing", {"messages": [USER]}, "model", "Missing required parameter: 'model'"),
    ("model-null", {"model": None, "messages": [USER]}, "model", "Missing required parameter"),
    ("model-number", body(model=4), "model", "expected a string, but got an integer"),
    ("model-empty", body(model=""), "model", "GET /v1/models"),
    ("model-blank", body(model="   "), "model", "model ID"),
    ("model-too-long", body(model="q/" + "x" * 255), "model", "at most 256 characters"),
    # messages
    ("messages-missing", {"model": "qwen/qwen-plus"}, "messages", "Missing required parameter: 'messages'"),
    ("messages-empty", body(messages=[]), "messages", "at least one message"),
    ("messages-object", body(messages={"role": "user"}), "messages", "expected an array of messages"),
    ("messages-string", body(messages="hi"), "messages", "but got a string"),
    ("message-not-object", body(USER, "hello"), "messages[1]", "expected an object with 'role'"),
    ("role-missing", body({"content": "hi"}), "messages[0].role", "Missing required parameter"),
    ("role-unknown", body({"role": "human", "content": "hi"}), "messages[0].role", "but got 'human'"),
    ("role-not-string", body({"role": 1, "content": "hi"}), "messages[0].role", "but got an integer"),
    ("role-function", body(USER, {"role": "function", "name": "f", "content": "1"}), "messages[1].role",
     "legacy 'function' role is not supported"),
    ("name-not-string", body({"role": "user", "content": "hi", "name": 5}), "messages[0].name",
     "expected a string"),
    ("user-content-missing", body({"role": "user"}), "messages[0].content", "Missing required parameter"),
    ("user-content-null", body({"role": "user", "content": None}), "messages[0].content", "but got null"),
    ("system-content-null", body({"role": "system", "content": None}, USER), "messages[0].content",
     "but got null"),
    ("content-number", body({"role": "user", "content": 42}), "messages[0].content",
     "a string or an array of content parts"),
    ("content-object", body({"role": "user", "content": {"type": "text", "text": "hi"}}), "messages[0].content",
     "but got an object"),
    ("content-empty-array", body({"role": "user", "content": []}), "messages[0].content", "empty array"),
    ("part-not-object", body({"role": "user", "content": ["hi"]}), "messages[0].content[0]",
     "expected an object"),
    ("part-type-missing", body({"role": "user", "content": [{"text": "hi"}]}), "messages[0].content[0].type",
     "Missing required parameter"),
    ("text-part-no-text", body({"role": "user", "content": [{"type": "text"}]}), "messages[0].content[0].text",
     "Missing required parameter"),
    ("text-part-number", body({"role": "user", "content": [{"type": "text", "text": 3}]}),
     "messages[0].content[0].text", "expected a string"),
    ("image-url-string", body({"role": "user", "content": [{"type": "image_url", "image_url": PIXEL}]}),
     "messages[0].content[0].image_url", '{"url": "https://..."}'),
    ("image-url-missing", body({"role": "user", "content": [{"type": "image_url"}]}),
     "messages[0].content[0].image_url", "Missing required parameter"),
    ("image-url-no-url", body({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}),
     "messages[0].content[0].image_url.url", "Missing required parameter"),
    ("image-url-empty", body({"role": "user", "content": [{"type": "image_url", "image_url": {"url": ""}}]}),
     "messages[0].content[0].image_url.url", "data: URL"),
    ("image-detail", body({"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": PIXEL, "detail": "ultra"}}]}),
     "messages[0].content[0].image_url.detail", "'auto', 'low' or 'high'"),
    ("audio-no-format", body({"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x"}}]}),
     "messages[0].content[0].input_audio.format", "Missing required parameter"),
    ("file-not-object", body({"role": "user", "content": [{"type": "file", "file": "abc"}]}),
     "messages[0].content[0].file", "expected an object"),
    ("system-image-part", body({"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": PIXEL}}]}, USER), "messages[0].content[0].type",
     "accepts only 'text' parts"),
    ("developer-refusal-part", body({"role": "developer", "content": [{"type": "refusal", "refusal": "no"}]}),
     "messages[0].content[0].type", "accepts only 'text' parts"),
    ("tool-image-part", body(USER, {"role": "assistant", "tool_calls": [TOOL_CALL]},
                             {"role": "tool", "tool_call_id": "call_abc123",
                              "content": [{"type": "image_url", "image_url": {"url": PIXEL}}]}),
     "messages[2].content[0].type", "accepts only 'text' parts"),
    ("assistant-image-part", body(USER, {"role": "assistant", "content": [
        {"type": "image_url", "image_url": {"url": PIXEL}}]}), "messages[1].content[0].type",
     "'refusal' or 'text'"),
    # assistant tool calls and tool results
    ("assistant-no-content-no-calls", body(USER, {"role": "assistant"}), "messages[1].content",
     "unless it has 'tool_calls'"),
    ("assistant-null-content-no-calls", body(USER, {"role": "assistant", "content": None}), "messages[1].content",
     "unless it has 'tool_calls'"),
    ("tool-calls-object", body(USER, {"role": "assistant", "tool_calls": TOOL_CALL}), "messages[1].tool_calls",
     "expected an array of tool calls"),
    ("tool-calls-empty", body(USER, {"role": "assistant", "content": "x", "tool_calls": []}),
     "messages[1].tool_calls", "empty array"),
    ("tool-call-no-id", body(USER, {"role": "assistant", "tool_calls": [
        {"type": "function", "function": TOOL_CALL["function"]}]}), "messages[1].tool_calls[0].id",
     "Missing required parameter"),
    ("tool-call-no-type", body(USER, {"role": "assistant", "tool_calls": [
        {"id": "c1", "function": TOOL_CALL["function"]}]}), "messages[1].tool_calls[0].type",
     "Missing required parameter"),
    ("tool-call-custom", body(USER, {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "custom", "custom": {"name": "x", "input": "y"}}]}),
     "messages[1].tool_calls[0].type", "only 'function' tool calls"),
    ("tool-call-no-function", body(USER, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function"}]}),
     "messages[1].tool_calls[0].function", "Missing required parameter"),
    ("tool-call-no-name", body(USER, {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"arguments": "{}"}}]}),
     "messages[1].tool_calls[0].function.name", "Missing required parameter"),
    ("tool-call-dict-arguments", body(USER, {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"city": "Hangzhou"}}}]}),
     "messages[1].tool_calls[0].function.arguments", "JSON-encoded arguments"),
    ("tool-call-no-arguments", body(USER, {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f"}}]}),
     "messages[1].tool_calls[0].function.arguments", "Missing required parameter"),
    ("function-call-no-arguments", body(USER, {"role": "assistant", "function_call": {"name": "f"}}),
     "messages[1].function_call.arguments", "Missing required parameter"),
    ("tool-message-no-id", body(*AGENT_LOOP[:3], {"role": "tool", "content": "21"}),
     "messages[3].tool_call_id", "Missing required parameter: 'messages[3].tool_call_id'"),
    ("tool-message-numeric-id", body(*AGENT_LOOP[:3], {"role": "tool", "content": "21", "tool_call_id": 1}),
     "messages[3].tool_call_id", "expected a string"),
    ("tool-message-no-content", body(*AGENT_LOOP[:3], {"role": "tool", "tool_call_id": "call_abc123"}),
     "messages[3].content", "Missing required parameter"),
    # stream
    ("stream-string", body(stream="true"), "stream", "expected a boolean, but got a string"),
    ("stream-int", body(stream=1), "stream", "expected a boolean, but got an integer"),
    ("stream-options-without-stream", body(stream_options={"include_usage": True}), "stream_options",
     "only allowed when 'stream' is true"),
    ("stream-options-stream-false", body(stream=False, stream_options={"include_usage": True}), "stream_options",
     "only allowed when 'stream' is true"),
    ("stream-options-not-object", body(stream=True, stream_options=True), "stream_options", "expected an object"),
    ("include-usage-string", body(stream=True, stream_options={"include_usage": "yes"}),
     "stream_options.include_usage", "expected a boolean"),
    # sampling
    ("temperature-high", body(temperature=2.5), "temperature", "between 0 and 2, but got 2.5"),
    ("temperature-negative", body(temperature=-0.1), "temperature", "between 0 and 2"),
    ("temperature-string", body(temperature="0.7"), "temperature", "expected a number, but got a string"),
    ("temperature-bool", body(temperature=True), "temperature", "expected a number, but got a boolean"),
    ("temperature-nan", body(temperature=float("nan")), "temperature", "finite"),
    ("top-p-high", body(top_p=1.5), "top_p", "between 0 and 1"),
    ("presence-low", body(presence_penalty=-2.01), "presence_penalty", "between -2 and 2"),
    ("frequency-high", body(frequency_penalty=3), "frequency_penalty", "between -2 and 2"),
    ("frequency-infinite", body(frequency_penalty=float("-inf")), "frequency_penalty", "NaN and Infinity"),
    ("max-tokens-zero", body(max_tokens=0), "max_tokens", "at least 1, but got 0"),
    ("max-tokens-negative", body(max_tokens=-5), "max_tokens", "at least 1"),
    ("max-tokens-float", body(max_tokens=100.0), "max_tokens", "expected an integer, but got a decimal number"),
    ("max-tokens-bool", body(max_tokens=True), "max_tokens", "expected an integer, but got a boolean"),
    ("max-tokens-string", body(max_tokens="100"), "max_tokens", "but got a string"),
    ("max-completion-zero", body(max_completion_tokens=0), "max_completion_tokens", "at least 1"),
    ("max-tokens-disagree", body(max_tokens=100, max_completion_tokens=200), "max_tokens",
     "max_tokens (100) and max_completion_tokens (200) disagree"),
    ("n-zero", body(n=0), "n", "between 1 and 128, but got 0"),
    ("n-too-many", body(n=129), "n", "between 1 and 128"),
    ("n-bool", body(n=True), "n", "but got a boolean"),
    ("seed-float", body(seed=1.5), "seed", "expected an integer"),
    ("seed-huge", body(seed=2 ** 63), "seed", "between"),
    ("stop-number", body(stop=5), "stop", "a string or an array of strings"),
    ("stop-five", body(stop=["a", "b", "c", "d", "e"]), "stop", "at most 4 items, but got 5"),
    ("stop-empty", body(stop=[]), "stop", "empty array"),
    ("stop-item-number", body(stop=["a", 1]), "stop[1]", "expected a string"),
    ("user-number", body(user=123), "user", "expected a string"),
    ("logprobs-string", body(logprobs="true"), "logprobs", "expected a boolean"),
    ("top-logprobs-high", body(logprobs=True, top_logprobs=21), "top_logprobs", "between 0 and 20"),
    ("top-logprobs-without-logprobs", body(top_logprobs=5), "top_logprobs", "requires 'logprobs' to be true"),
    ("top-logprobs-logprobs-false", body(logprobs=False, top_logprobs=5), "top_logprobs", "requires 'logprobs'"),
    ("logit-bias-list", body(logit_bias=[1, 2]), "logit_bias", "expected an object"),
    ("logit-bias-word-key", body(logit_bias={"hello": 5}), "logit_bias", "token IDs"),
    ("logit-bias-range", body(logit_bias={"42": 101}), "logit_bias.42", "between -100 and 100"),
    ("logit-bias-string", body(logit_bias={"42": "5"}), "logit_bias.42", "expected a number"),
    # response_format
    ("response-format-string", body(response_format="json"), "response_format", "expected an object"),
    ("response-format-no-type", body(response_format={}), "response_format.type", "Missing required parameter"),
    ("response-format-unknown", body(response_format={"type": "yaml"}), "response_format.type",
     "'text', 'json_object' or 'json_schema'"),
    ("json-schema-missing", body(response_format={"type": "json_schema"}), "response_format.json_schema",
     "Missing required parameter"),
    ("json-schema-no-name", body(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
     "response_format.json_schema.name", "Missing required parameter"),
    ("json-schema-bad-name", body(response_format={"type": "json_schema", "json_schema": {"name": "my plan"}}),
     "response_format.json_schema.name", "1-64 letters, digits"),
    ("json-schema-schema-list", body(response_format={"type": "json_schema",
                                                      "json_schema": {"name": "p", "schema": []}}),
     "response_format.json_schema.schema", "expected an object"),
    # tools and tool_choice
    ("tools-object", body(tools=WEATHER_TOOL), "tools", "expected an array of tools"),
    ("tools-empty", body(tools=[]), "tools", "omit 'tools'"),
    ("tools-too-many", body(tools=[{"type": "function", "function": {"name": f"t{i}"}} for i in range(129)]),
     "tools", "at most 128 items, but got 129"),
    ("tool-no-type", body(tools=[{"function": {"name": "f"}}]), "tools[0].type", "Missing required parameter"),
    ("tool-custom", body(tools=[WEATHER_TOOL, {"type": "custom", "custom": {"name": "x"}}]), "tools[1].type",
     "only 'function' tools are supported"),
    ("tool-no-function", body(tools=[{"type": "function"}]), "tools[0].function", "Missing required parameter"),
    ("tool-flat-shape", body(tools=[{"type": "function", "name": "get_weather"}]), "tools[0].function",
     "Missing required parameter"),
    ("tool-no-name", body(tools=[{"type": "function", "function": {"description": "x"}}]),
     "tools[0].function.name", "Missing required parameter"),
    ("tool-name-space", body(tools=[{"type": "function", "function": {"name": "get weather"}}]),
     "tools[0].function.name", "'get weather' is not a valid name"),
    ("tool-name-dot", body(tools=[WEATHER_TOOL, {"type": "function", "function": {"name": "fs.read"}}]),
     "tools[1].function.name", "letters, digits, underscores or dashes"),
    ("tool-name-long", body(tools=[{"type": "function", "function": {"name": "x" * 65}}]),
     "tools[0].function.name", "1-64"),
    ("tool-parameters-string", body(tools=[{"type": "function", "function": {"name": "f", "parameters": "{}"}}]),
     "tools[0].function.parameters", "expected an object"),
    ("tool-strict-string", body(tools=[{"type": "function", "function": {"name": "f", "strict": "yes"}}]),
     "tools[0].function.strict", "expected a boolean"),
    ("tool-description-number", body(tools=[{"type": "function", "function": {"name": "f", "description": 1}}]),
     "tools[0].function.description", "expected a string"),
    ("tool-choice-without-tools", body(tool_choice="auto"), "tool_choice",
     "only allowed when 'tools' are specified"),
    ("tool-choice-none-without-tools", body(tool_choice="none"), "tool_choice", "'tools'"),
    ("tool-choice-unknown", body(tools=[WEATHER_TOOL], tool_choice="any"), "tool_choice", "'required'"),
    ("tool-choice-number", body(tools=[WEATHER_TOOL], tool_choice=1), "tool_choice", "a string or an object"),
    ("tool-choice-no-function", body(tools=[WEATHER_TOOL], tool_choice={"type": "function"}),
     "tool_choice.function", "Missing required parameter"),
    ("tool-choice-allowed-tools", body(tools=[WEATHER_TOOL], tool_choice={"type": "allowed_tools"}),
     "tool_choice.type", "only 'function'"),
    ("tool-choice-unknown-name", body(tools=[WEATHER_TOOL],
                                      tool_choice={"type": "function", "function": {"name": "get_time"}}),
     "tool_choice.function.name", "no tool named 'get_time'"),
    ("parallel-tool-calls-string", body(tools=[WEATHER_TOOL], parallel_tool_calls="false"),
     "parallel_tool_calls", "expected a boolean"),
    # light checks on OpenAI's other fields
    ("metadata-list", body(metadata=["a"]), "metadata", "expected an object"),
    ("store-string", body(store="yes"), "store", "expected a boolean"),
    ("service-tier-number", body(service_tier=1), "service_tier", "expected a string"),
    ("reasoning-effort-bool", body(reasoning_effort=True), "reasoning_effort", "expected a string"),
    ("modalities-string", body(modalities="text"), "modalities", "expected an array of strings"),
    ("modalities-item", body(modalities=["text", 1]), "modalities[1]", "expected a string"),
    ("prediction-string", body(prediction="draft"), "prediction", "expected an object"),
    ("audio-string", body(audio="alloy"), "audio", "expected an object"),
    ("web-search-list", body(web_search_options=[]), "web_search_options", "expected an object"),
    ("functions-object", body(functions={"name": "f"}), "functions", "expected an array"),
    # non-finite numbers anywhere, including fields EtherGate only forwards
    ("nan-in-extra", body(thinking={"budget": float("nan")}), "thinking.budget", "finite"),
    ("inf-in-tool-schema", body(tools=[{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "maximum": float("inf")}}}]),
     "tools[0].function.parameters.maximum", "finite"),
    ("nan-in-message", body({"role": "user", "content": "x", "weight": float("nan")}), "messages[0].weight",
     "finite"),
]


@pytest.mark.parametrize("request_body,param,fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_requests_name_the_field(request_body, param, fragment):
    error = refused(request_body)
    assert error.param == param, error.message
    assert fragment in error.message
    assert f"'{param}'" in error.message, "the message names the field too"
    assert error.code == "invalid_request_error"


def test_error_body_is_the_openai_envelope():
    error = refused(body(temperature=9))
    assert error.body("req_1") == {"error": {
        "message": "Invalid 'temperature': expected a number between 0 and 2, but got 9.",
        "type": "invalid_request_error", "param": "temperature", "code": "invalid_request_error",
        "request_id": "req_1"}}


def test_first_problem_in_message_order_is_reported():
    error = refused(body(USER, {"role": "user"}, {"role": "user", "content": 1}))
    assert error.param == "messages[1].content"


def test_long_agent_history_is_validated_quickly():
    history = [AGENT_LOOP[0]] + AGENT_LOOP[1:6] * 400
    request_body = body(*history, tools=[WEATHER_TOOL] * 100)
    started = time.perf_counter()
    validate_chat_request(request_body)
    assert time.perf_counter() - started < 0.5


# apply_model_policy: what one model cannot do.

def model_info(**overrides) -> ModelInfo:
    fields = dict(
        id="qwen/qwen-plus", name="Qwen Plus", description=None, context_window=1_000_000, max_output_tokens=32768,
        default_max_tokens=None, capabilities=frozenset({"streaming", "tools", "json_mode", "vision"}),
        fixed_temperature=None, max_n=4, unsupported_params=frozenset(), upstream_params=None,
        routes=(RouteInfo("qwen", "qwen-plus", 1),),
        prices=(PriceRow("base", None, None, None, None, None, 800_000, 160_000, 2_000_000),),
        aliases=(), released=None)
    fields.update(overrides)
    if "capabilities" in overrides:
        fields["capabilities"] = frozenset(overrides["capabilities"])
    return ModelInfo(**fields)


IMAGE_MESSAGE = {"role": "user", "content": [
    {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": PIXEL}}]}

POLICY_REFUSALS = [
    ("n-over-max", body(n=5), {}, "n", "at most 4 choices per request, but got 5"),
    ("n-over-one", body(n=2), {"max_n": 1}, "n", "at most 1 choice per request"),
    ("tools-unsupported", body(tools=[WEATHER_TOOL]), {"capabilities": {"streaming"}}, "tools",
     "does not support tool calling"),
    ("tool-choice-unsupported", body(tools=[WEATHER_TOOL], tool_choice="auto"), {"capabilities": {"streaming"}},
     "tools", "tool calling"),
    ("functions-unsupported", body(functions=[{"name": "f"}]), {"capabilities": {"streaming"}}, "functions",
     "tool calling"),
    ("json-object-unsupported", body(response_format={"type": "json_object"}), {"capabilities": {"streaming"}},
     "response_format", "does not support JSON output"),
    ("json-schema-unsupported", body(response_format={"type": "json_schema", "json_schema": {"name": "x"}}),
     {"capabilities": {"streaming", "tools"}}, "response_format", "'json_schema'"),
    ("image-without-vision", body(USER, IMAGE_MESSAGE), {"capabilities": {"streaming", "tools"}},
     "messages[1].content[1]", "does not accept image or video input"),
    ("video-without-vision", body({"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": "https://example.com/a.mp4"}}]}),
     {"capabilities": {"streaming"}}, "messages[0].content[0]", "'vision' capability"),
    ("stream-unsupported", body(stream=True), {"capabilities": {"tools"}}, "stream", "does not support streaming"),
]


@pytest.mark.parametrize("request_body", [body(max_tokens=65536), body(max_completion_tokens=32769)])
def test_model_policy_leaves_caps_above_the_limit_to_the_clamp(request_body):
    apply_model_policy(validate_chat_request(request_body), model_info())


@pytest.mark.parametrize("request_body,overrides,param,fragment", [p[1:] for p in POLICY_REFUSALS],
                         ids=[p[0] for p in POLICY_REFUSALS])
def test_model_policy_refuses_what_the_model_cannot_do(request_body, overrides, param, fragment):
    chat = validate_chat_request(request_body)
    model = model_info(**overrides)
    with pytest.raises(GatewayError) as caught:
        apply_model_policy(chat, model)
    error = caught.value
    assert (error.status, error.type, error.param) == (400, "invalid_request_error", param)
    assert fragment in error.message and model.id in error.message


@pytest.mark.parametrize("request_body,overrides", [
    (body(n=4, max_tokens=32768), {}),
    (body(n=1), {"max_n": 1}),
    (body(n=50), {"max_n": None}),
    (body(USER, IMAGE_MESSAGE, tools=[WEATHER_TOOL], tool_choice="required",
          response_format={"type": "json_object"}, stream=True), {}),
    (body(response_format={"type": "text"}), {"capabilities": {"streaming"}}),
    (body(USER, {"role": "user", "content": [{"type": "text", "text": "no images here"}]}),
     {"capabilities": {"streaming"}}),
    (body(*AGENT_LOOP, tools=[WEATHER_TOOL], stream=True, stream_options={"include_usage": True}), {}),
])
def test_model_policy_accepts_what_the_model_can_do(request_body, overrides):
    apply_model_policy(validate_chat_request(request_body), model_info(**overrides))


def test_policy_with_the_shipped_catalog(app):
    from ethergate.catalog.snapshot import get_snapshot
    snapshot = get_snapshot(force=True)
    pro = snapshot.resolve("deepseek/deepseek-v4-pro")
    assert "vision" not in pro.capabilities
    with pytest.raises(GatewayError) as caught:
        apply_model_policy(validate_chat_request(body(IMAGE_MESSAGE, model=pro.id)), pro)
    assert caught.value.param == "messages[0].content[1]"
    flash = snapshot.resolve("deepseek/deepseek-v4-flash")
    apply_model_policy(validate_chat_request(body(IMAGE_MESSAGE, model=flash.id)), flash)
    with pytest.raises(GatewayError) as caught:
        apply_model_policy(validate_chat_request(body(n=2, model=flash.id)), flash)
    assert caught.value.param == "n"
