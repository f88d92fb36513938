import copy
import dataclasses
import json

import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from ethergate.catalog.snapshot import ModelInfo
from ethergate.gateway.errors import GatewayError
from ethergate.gateway.providers.adapters import (StreamTranslator, build_upstream_body, estimate_completion_tokens,
                                                  estimate_prompt_tokens, normalize_completion)
from ethergate.gateway.providers.usage import Usage
from tests.fakes import formats

BASE_MODEL = ModelInfo(
    id="qwen/qwen-plus", name="Qwen Plus", description=None, context_window=1_000_000, max_output_tokens=32768,
    default_max_tokens=None, capabilities=frozenset({"streaming", "tools"}), fixed_temperature=None, max_n=4,
    unsupported_params=frozenset(), upstream_params=None, routes=(), prices=(), aliases=(), released=None)
DEEPSEEK_CHAT = dataclasses.replace(
    BASE_MODEL, id="deepseek/deepseek-chat", default_max_tokens=32768, max_n=1,
    unsupported_params=frozenset({"logprobs", "top_logprobs"}), upstream_params={"thinking": {"type": "disabled"}})
DEEPSEEK_FLASH = dataclasses.replace(DEEPSEEK_CHAT, id="deepseek/deepseek-v4-flash", upstream_params=None)
KIMI = dataclasses.replace(
    BASE_MODEL, id="moonshot/kimi-k2.6", default_max_tokens=32768, fixed_temperature=1.0, max_n=1,
    unsupported_params=frozenset({"top_p", "presence_penalty", "frequency_penalty"}))
MODELS = {"deepseek": DEEPSEEK_FLASH, "qwen": BASE_MODEL, "moonshot": KIMI}
PUBLIC = {"deepseek": "deepseek/deepseek-v4-flash", "qwen": "qwen/qwen-plus", "moonshot": "moonshot/kimi-k2.6"}
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "天气怎么样？"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]
CALLS = [{"id": "call_0a1b2c3d4e5f60718293a4b5", "name": "get_weather", "arguments": '{"city": "北京", "unit": "c"}'},
         {"id": "call_ffeeddccbbaa998877665544", "name": "get_time", "arguments": '{"tz": "Asia/Shanghai"}'}]


def body_for(provider, model=None, streamed=False, **params):
    return build_upstream_body(provider, model or MODELS[provider], "upstream-name",
                               {"model": PUBLIC[provider], "messages": MESSAGES, **params}, streamed)


class TestBuildUpstreamBody:
    def test_upstream_model_replaces_the_clients(self):
        body, dropped = body_for("qwen")
        assert body == {"model": "upstream-name", "messages": MESSAGES} and dropped == []

    @pytest.mark.parametrize("provider", formats.PROVIDERS)
    def test_streams_always_ask_for_usage(self, provider):
        body, _ = body_for(provider, streamed=True, stream=True, stream_options={"include_usage": False})
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        assert "stream" not in body_for(provider, streamed=False, stream=True)[0]

    def test_fixed_temperature_replaces_the_clients_and_is_reported(self):
        body, dropped = body_for("moonshot", temperature=0.2)
        assert body["temperature"] == 1.0 and dropped == ["temperature"]
        assert body_for("moonshot", temperature=1.0)[1] == []
        assert "temperature" not in body_for("moonshot")[0]

    def test_fixed_temperature_gives_way_when_kimi_thinking_is_off(self):
        body, dropped = body_for("moonshot", temperature=0.2, thinking={"type": "disabled"})
        assert "temperature" not in body and dropped == ["temperature"]

    def test_unsupported_params_are_dropped_and_reported(self):
        body, dropped = body_for("moonshot", top_p=0.5, presence_penalty=1, frequency_penalty=1, seed=7)
        assert not {"top_p", "presence_penalty", "frequency_penalty"} & set(body)
        assert sorted(dropped) == ["frequency_penalty", "presence_penalty", "top_p"] and body["seed"] == 7
        body, dropped = body_for("deepseek", logprobs=True, top_logprobs=3)
        assert "logprobs" not in body and dropped == ["logprobs", "top_logprobs"]

    def test_unknown_and_openai_only_params_are_dropped(self):
        body, dropped = body_for("qwen", metadata={"a": "b"}, store=True, service_tier="auto", foo=1)
        assert set(dropped) == {"metadata", "store", "service_tier", "foo"}
        assert set(body) == {"model", "messages"}

    def test_provider_switches_reach_only_their_provider(self):
        body, dropped = body_for("qwen", enable_thinking=True, thinking_budget=512, thinking={"type": "enabled"})
        assert body["enable_thinking"] is True and body["thinking_budget"] == 512 and dropped == ["thinking"]
        body, dropped = body_for("deepseek", enable_thinking=True, thinking={"type": "enabled"})
        assert body["thinking"] == {"type": "enabled"} and dropped == ["enable_thinking"]

    def test_catalog_upstream_params_are_merged_without_overriding_the_client(self):
        body, _ = body_for("deepseek", model=DEEPSEEK_CHAT)
        assert body["thinking"] == {"type": "disabled"}
        body, _ = body_for("deepseek", model=DEEPSEEK_CHAT, thinking={"type": "enabled"})
        assert body["thinking"] == {"type": "enabled"}
        assert DEEPSEEK_CHAT.upstream_params == {"thinking": {"type": "disabled"}}

    @pytest.mark.parametrize("provider,field", [("deepseek", "max_tokens"), ("qwen", "max_tokens"),
                                                ("moonshot", "max_completion_tokens")])
    def test_completion_cap_goes_under_the_name_each_provider_documents(self, provider, field):
        for given in ("max_tokens", "max_completion_tokens"):
            body, _ = body_for(provider, **{given: 300})
            assert body[field] == 300 and {"max_tokens", "max_completion_tokens"} & set(body) == {field}
        body, _ = body_for(provider, max_tokens=500, max_completion_tokens=200)
        assert body[field] == 200

    def test_the_catalog_default_cap_applies_when_the_client_sets_none(self):
        assert body_for("deepseek")[0]["max_tokens"] == 32768
        assert body_for("moonshot")[0]["max_completion_tokens"] == 32768
        assert "max_tokens" not in body_for("qwen")[0]

    def test_openai_params_are_kept_where_the_provider_documents_them(self):
        params = dict(tools=TOOLS, tool_choice="auto", parallel_tool_calls=False, stop=["\n\n"], seed=42, n=1,
                      response_format={"type": "json_object"}, top_p=0.9, presence_penalty=0.5)
        body, dropped = body_for("qwen", **params)
        assert dropped == [] and all(body[k] == v for k, v in params.items())
        body, dropped = body_for("qwen", user="end-user-1", frequency_penalty=0.1)
        assert dropped == ["user", "frequency_penalty"] and not {"user", "frequency_penalty"} & set(body)

    def test_nulls_mean_provider_default_and_are_not_sent(self):
        body, dropped = body_for("qwen", temperature=None, stop=None)
        assert "temperature" not in body and "stop" not in body and dropped == []

    def test_tool_call_turns_get_a_reasoning_placeholder_in_thinking_mode(self):
        history = MESSAGES + [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "晴"}]
        original = copy.deepcopy(history)
        params = {"messages": history, "tools": TOOLS}
        for provider in ("deepseek", "moonshot"):
            body, _ = build_upstream_body(provider, MODELS[provider], "u", params, False)
            assert body["messages"][2]["reasoning_content"] == " "
            assert "reasoning_content" not in body["messages"][3]
        assert history == original
        assert "reasoning_content" not in build_upstream_body("qwen", BASE_MODEL, "u", params, False)[0]["messages"][2]
        body, _ = build_upstream_body("deepseek", DEEPSEEK_CHAT, "u", params, False)
        assert "reasoning_content" not in body["messages"][2]
        kept = [*history[:2], {**history[2], "reasoning_content": "I should check."}, history[3]]
        body, _ = build_upstream_body("deepseek", DEEPSEEK_FLASH, "u", {"messages": kept}, False)
        assert body["messages"][2]["reasoning_content"] == "I should check."


TOOL_TURN = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}


def sent(provider, messages, model=None, **params):
    return build_upstream_body(provider, model or MODELS[provider], "u", {"messages": messages, **params}, False)


class TestNormalisation:
    @pytest.mark.parametrize("provider", formats.PROVIDERS)
    def test_openai_only_params_are_dropped_and_named(self, provider):
        body, dropped = body_for(provider, store=True, metadata={"k": "v"}, user="u1", prompt_cache_key="c1")
        assert set(dropped) == {"store", "metadata", "user", "prompt_cache_key"}
        assert not set(dropped) & set(body)

    @pytest.mark.parametrize("provider", formats.PROVIDERS)
    def test_developer_role_becomes_system(self, provider):
        body, _ = sent(provider, [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}])
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}

    def test_later_system_messages_fold_into_the_first_for_qwen_only(self):
        history = [{"role": "system", "content": "A"}, {"role": "user", "content": "hi"},
                   {"role": "system", "content": "B"}, {"role": "user", "content": "again"}]
        body, _ = sent("qwen", history)
        assert body["messages"] == [{"role": "system", "content": "A\n\nB"}, history[1], history[3]]
        assert sent("deepseek", history)[0]["messages"] == history

    @pytest.mark.parametrize("provider", formats.PROVIDERS)
    def test_text_part_arrays_become_strings_and_unknown_parts_are_refused(self, provider):
        parts = [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]
        body, _ = sent(provider, [{"role": "system", "content": parts}, {"role": "user", "content": parts}])
        assert [m["content"] for m in body["messages"]] == ["Be brief.", "Be brief."]
        audio = [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]
        with pytest.raises(GatewayError) as caught:
            sent(provider, [{"role": "user", "content": audio}])
        assert caught.value.status == 400 and caught.value.param == "messages[0].content[0].type"

    def test_reasoning_content_goes_back_where_required_and_never_to_qwen(self):
        history = [*MESSAGES, {**TOOL_TURN, "reasoning_content": "Check the weather."},
                   {"role": "tool", "tool_call_id": "call_1", "content": "晴"}]
        for provider in ("deepseek", "moonshot"):
            assert sent(provider, history)[0]["messages"][2]["reasoning_content"] == "Check the weather."
        assert "reasoning_content" not in sent("qwen", history, enable_thinking=True)[0]["messages"][2]
        # Thinking switched off: nothing to send back, and the field is not sent.
        assert "reasoning_content" not in sent("deepseek", history, model=DEEPSEEK_CHAT)[0]["messages"][2]

    def test_forced_tool_choice_becomes_auto_while_kimi_thinks(self):
        body, dropped = sent("moonshot", MESSAGES, tools=TOOLS, tool_choice="required")
        assert body["tool_choice"] == "auto" and dropped == ["tool_choice"]
        body, dropped = sent("moonshot", MESSAGES, tools=TOOLS, tool_choice="required", thinking={"type": "disabled"})
        assert body["tool_choice"] == "required" and dropped == []
        assert sent("deepseek", MESSAGES, tools=TOOLS, tool_choice="required")[0]["tool_choice"] == "required"

    @pytest.mark.parametrize("provider", formats.PROVIDERS)
    def test_json_schema_becomes_json_mode_with_the_schema_in_the_system_message(self, provider):
        schema = {"type": "object", "properties": {"city": {"type": "string"}}}
        body, dropped = sent(provider, MESSAGES, response_format={
            "type": "json_schema", "json_schema": {"name": "place", "schema": schema}})
        assert body["response_format"] == {"type": "json_object"} and dropped == []
        assert body["messages"][0]["role"] == "system" and body["messages"][0]["content"].startswith("Be brief.")
        assert json.dumps(schema, separators=(",", ":")) in body["messages"][0]["content"]

    def test_reasoning_effort_follows_the_provider_and_the_catalog(self):
        assert sent("deepseek", MESSAGES, reasoning_effort="max")[0]["reasoning_effort"] == "max"
        assert sent("qwen", MESSAGES, reasoning_effort="low")[0]["reasoning_effort"] == "low"
        older = dataclasses.replace(BASE_MODEL, unsupported_params=frozenset({"reasoning_effort"}))
        assert sent("qwen", MESSAGES, model=older, reasoning_effort="low")[1] == ["reasoning_effort"]
        assert sent("moonshot", MESSAGES, reasoning_effort="high")[1] == ["reasoning_effort"]

    def test_legacy_functions_become_tools(self):
        body, dropped = sent("qwen", MESSAGES, functions=[TOOLS[0]["function"]],
                             function_call={"name": "get_weather"})
        assert body["tools"] == TOOLS and dropped == []
        assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def fake_answer(provider, content="Sunny in Beijing today.", reasoning=None, tool_calls=(), usage=None):
    finish = "tool_calls" if tool_calls else "stop"
    usage = usage if usage is not None else formats.usage_payload(provider, 40, 12, cached=32,
                                                                  reasoning=5 if reasoning else None)
    return formats.Answer(provider, "upstream-name", 1_700_000_000, None if tool_calls else content, reasoning,
                          list(tool_calls), finish, usage, [] if tool_calls else formats.word_pieces(content),
                          formats.word_pieces(reasoning) if reasoning else [])


class TestNormalizeCompletion:
    @pytest.mark.parametrize("provider", formats.PROVIDERS)
    def test_text_answer_with_reasoning(self, provider):
        upstream = fake_answer(provider, reasoning="The user asks about weather.").completion()
        result, usage = normalize_completion(provider, json.loads(json.dumps(upstream)), PUBLIC[provider], "req_1")
        parsed = ChatCompletion.model_validate(result)
        assert result["id"] == upstream["id"] and result["model"] == PUBLIC[provider]
        assert parsed.choices[0].message.content == "Sunny in Beijing today."
        assert result["choices"][0]["message"]["reasoning_content"] == "The user asks about weather."
        assert parsed.choices[0].finish_reason == "stop"
        assert usage == Usage(40, 12, 32, 0 if provider == "moonshot" else 5)
        assert result["usage"] == usage.to_openai()
        assert set(result) <= {"id", "object", "created", "model", "choices", "usage", "system_fingerprint"}

    @pytest.mark.parametrize("provider", formats.PROVIDERS)
    def test_tool_calls(self, provider):
        upstream = fake_answer(provider, tool_calls=CALLS).completion()
        result, _ = normalize_completion(provider, upstream, PUBLIC[provider], "req_1")
        parsed = ChatCompletion.model_validate(result)
        calls = parsed.choices[0].message.tool_calls
        assert [(c.id, c.function.name, c.function.arguments) for c in calls] == \
            [(c["id"], c["name"], c["arguments"]) for c in CALLS]
        assert parsed.choices[0].finish_reason == "tool_calls" and parsed.choices[0].message.content is None

    def test_moonshot_usage_inside_the_choice(self):
        upstream = fake_answer("moonshot").completion()
        upstream["choices"][0]["usage"] = upstream.pop("usage")
        result, usage = normalize_completion("moonshot", upstream, "moonshot/kimi-k2.6", "req_1")
        assert usage == Usage(40, 12, 32, 0) and "usage" not in result["choices"][0]

    def test_provider_quirks_are_smoothed(self):
        upstream = {"choices": [{"message": {"role": "assistant", "content": "partial", "tool_calls": [
            {"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
            "finish_reason": "insufficient_system_resource", "usage": None}],
            "usage": None, "provider_field": 1}
        result, usage = normalize_completion("deepseek", upstream, "deepseek/deepseek-v4-flash", "req_42")
        ChatCompletion.model_validate(result)
        assert result["id"] == "chatcmpl-req_42" and usage is None and "usage" not in result
        assert "provider_field" not in result
        call = result["choices"][0]["message"]["tool_calls"][0]
        assert call["id"].startswith("call_") and call["function"]["arguments"] == '{"a":1}'
        assert result["choices"][0]["finish_reason"] == "length"


def run_stream(provider, include_usage, chunks):
    translator = StreamTranslator(provider, PUBLIC[provider], include_usage)
    out = []
    for chunk in chunks:
        out += translator.feed(json.loads(json.dumps(chunk)))
    out += translator.finish()
    for chunk in out:
        ChatCompletionChunk.model_validate(chunk)
    return translator, out


def accumulate(out):
    state = ChatCompletionStreamState()
    for chunk in out:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()


def upstream_chunks(answer):
    return [chunk for _, chunk in answer.chunks(True)]


class TestStreamTranslator:
    @pytest.mark.parametrize("include_usage", [True, False])
    @pytest.mark.parametrize("provider", formats.PROVIDERS)
    def test_text_stream_and_usage_chunk_only_when_asked(self, provider, include_usage):
        answer = fake_answer(provider, content="晴天，最高 25 度。 Light wind.")
        translator, out = run_stream(provider, include_usage, upstream_chunks(answer))
        expected_usage = Usage(40, 12, 32, 0)
        assert translator.usage == expected_usage and translator.finish_reason == "stop"
        assert translator.upstream_id == answer.id and translator.started
        assert all(c["id"] == answer.id and c["model"] == PUBLIC[provider] for c in out)
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in out if c["choices"])
        assert text == answer.content and translator.content_chars == len(answer.content)
        if include_usage:
            assert out[-1]["choices"] == [] and out[-1]["usage"] == expected_usage.to_openai()
            assert all("usage" in c and c["usage"] is None for c in out[:-1])
            assert accumulate(out).usage.prompt_tokens_details.cached_tokens == 32
        else:
            assert all("usage" not in c and c["choices"] for c in out)
        assert not any("usage" in choice for c in out for choice in c["choices"])

    @pytest.mark.parametrize("provider", formats.PROVIDERS)
    def test_reasoning_deltas_pass_through(self, provider):
        answer = fake_answer(provider, content="Answer.", reasoning="Let me think about this carefully.")
        translator, out = run_stream(provider, True, upstream_chunks(answer))
        reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in out if c["choices"])
        assert reasoning == "Let me think about this carefully."
        assert translator.content_chars == len("Answer.") + len(reasoning)
        assert translator.usage.reasoning_tokens == (0 if provider == "moonshot" else 5)

    @pytest.mark.parametrize("provider", formats.PROVIDERS)
    def test_tool_calls_stream_with_id_only_in_the_first_delta(self, provider):
        translator, out = run_stream(provider, False, upstream_chunks(fake_answer(provider, tool_calls=CALLS)))
        deltas = [tc for c in out for tc in c["choices"][0]["delta"].get("tool_calls") or []]
        for index, call in enumerate(CALLS):
            mine = [d for d in deltas if d["index"] == index]
            assert mine[0]["id"] == call["id"] and mine[0]["type"] == "function"
            assert mine[0]["function"]["name"] == call["name"]
            assert all("id" not in d and "type" not in d and "name" not in d["function"] for d in mine[1:])
            assert "".join(d["function"].get("arguments", "") for d in mine) == call["arguments"]
        final = accumulate(out).choices[0]
        assert [(c.id, c.function.name, c.function.arguments) for c in final.message.tool_calls] == \
            [(c["id"], c["name"], c["arguments"]) for c in CALLS]
        assert translator.finish_reason == "tool_calls"
        assert translator.content_chars == sum(len(c["name"]) + len(c["arguments"]) for c in CALLS)

    def test_tool_deltas_that_repeat_id_and_name_and_omit_index(self):
        def chunk(call, finish=None):
            return {"id": "chatcmpl-q", "created": 1, "choices": [
                {"index": 0, "delta": {"tool_calls": [call]} if call else {}, "finish_reason": finish}]}
        head = {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
        chunks = [chunk(head),
                  chunk({"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"ci'}}),
                  chunk({"function": {"arguments": 'ty": "上海"}'}}),
                  chunk({"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}),
                  chunk(None, "tool_calls")]
        translator, out = run_stream("qwen", False, chunks)
        deltas = [tc for c in out for tc in c["choices"][0]["delta"].get("tool_calls") or []]
        assert [d.get("id") for d in deltas] == ["call_a", None, None, "call_b"]
        assert [d["index"] for d in deltas] == [0, 0, 0, 1]
        final = accumulate(out).choices[0].message.tool_calls
        assert [(c.id, c.function.name, c.function.arguments) for c in final] == \
            [("call_a", "get_weather", '{"city": "上海"}'), ("call_b", "get_time", "{}")]

    def test_a_call_without_an_upstream_id_gets_one(self):
        chunks = [{"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"name": "f", "arguments": "{}"}}]}}]}]
        _, out = run_stream("moonshot", False, chunks)
        assert out[0]["choices"][0]["delta"]["tool_calls"][0]["id"].startswith("call_")

    def test_qwen_trailing_usage_chunk_is_not_forwarded_as_content(self):
        chunks = upstream_chunks(fake_answer("qwen"))
        assert chunks[-1]["choices"] == []
        translator = StreamTranslator("qwen", "qwen/qwen-plus", True)
        assert translator.feed(chunks[-1]) == [] and translator.usage == Usage(40, 12, 32, 0)

    def test_usage_chunk_needs_known_usage_and_comes_once(self):
        translator, out = run_stream("deepseek", True, upstream_chunks(fake_answer("deepseek", usage={})))
        assert translator.usage is None and all(c["choices"] for c in out)
        translator, _ = run_stream("deepseek", True, upstream_chunks(fake_answer("deepseek")))
        assert translator.finish() == []

    def test_an_error_object_in_the_stream_is_kept_not_forwarded(self):
        translator = StreamTranslator("qwen", "qwen/qwen-plus", True)
        assert translator.feed({"error": {"message": "Internal error", "code": "InternalError"},
                                "request_id": "r-1"}) == []
        assert translator.failure.kind == "server" and not translator.started

    def test_unknown_finish_reasons_become_openai_ones(self):
        chunks = [{"id": "d", "choices": [{"index": 0, "delta": {"content": "cut"},
                                           "finish_reason": "insufficient_system_resource"}]}]
        translator, out = run_stream("deepseek", False, chunks)
        assert out[0]["choices"][0]["finish_reason"] == translator.finish_reason == "length"

    def test_empty_deltas_are_not_forwarded(self):
        translator = StreamTranslator("deepseek", "deepseek/deepseek-v4-flash", False)
        assert translator.feed({"id": "d", "choices": [{"index": 0, "delta": {"content": None}}]}) == []
        assert translator.feed({"id": "d", "choices": [{"index": 0, "delta": {"content": ""}}]}) == []
        assert not translator.started

    def test_several_choices_keep_their_own_index(self):
        chunks = [{"id": "q", "choices": [{"index": 0, "delta": {"content": "A"}},
                                          {"index": 1, "delta": {"content": "B"}}]},
                  {"id": "q", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"},
                                          {"index": 1, "delta": {}, "finish_reason": "stop"}]}]
        _, out = run_stream("qwen", False, chunks)
        final = accumulate(out)
        assert [c.message.content for c in final.choices] == ["A", "B"]


SAMPLES = [
    "The quick brown fox jumps over the lazy dog. " * 20,
    "北京今天天气晴朗，最高气温二十五度，适合户外活动。" * 20,
    "混合 mixed 文本 with emoji 🙂🚀 and numbers 1234567890. ",
    "def f(x):\n    return {'a': [1, 2, 3]}\n" * 10,
]


class TestEstimates:
    @pytest.mark.parametrize("text", SAMPLES)
    def test_prompt_estimate_bounds_the_utf8_bytes(self, text):
        estimate = estimate_prompt_tokens([{"role": "user", "content": text}], None)
        assert estimate >= len(text.encode("utf-8")) + 8 + 16

    def test_prompt_estimate_counts_every_text_field(self):
        image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 90000}}
        messages = [
            {"role": "user", "content": [{"type": "text", "text": "看图"}, image]},
            {"role": "assistant", "content": None, "reasoning_content": "思考",
             "tool_calls": [{"id": "call_1", "type": "function",
                             "function": {"name": "get_weather", "arguments": '{"city": "北京"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "晴"},
        ]
        bare = estimate_prompt_tokens(messages, None)
        assert bare >= 2000 + len("看图".encode()) + len('{"city": "北京"}'.encode()) + 3 * 8 + 16
        assert bare < 90000   # the base64 payload of an image is not text
        with_tools = estimate_prompt_tokens(messages, TOOLS)
        assert with_tools - bare >= len(json.dumps(TOOLS, ensure_ascii=False).encode())

    def test_prompt_estimate_is_at_least_the_fake_upstreams_count(self):
        messages = [{"role": "user", "content": text} for text in SAMPLES]
        fake_count = sum(formats.words(m["content"]) + 4 for m in messages)
        assert estimate_prompt_tokens(messages, None) >= fake_count

    def test_completion_estimate(self):
        assert estimate_completion_tokens(0) == 0
        assert estimate_completion_tokens(1) == 1
        assert estimate_completion_tokens(7) == 4
        assert estimate_completion_tokens(1000) == 500


def post(fake_upstream, provider, body, stream):
    import requests

    return requests.post(fake_upstream.base_url(provider) + "/chat/completions", json=body, stream=stream,
                         headers={"Authorization": "Bearer sk-test"}, timeout=10)


@pytest.mark.parametrize("provider", formats.PROVIDERS)
def test_round_trip_over_http_with_the_fake_upstream(fake_upstream, provider):
    from ethergate.gateway.providers.failures import classify_http_error, upstream_request_id
    from ethergate.gateway.providers.sse import SSEParser

    directive = '[[fake:{"reasoning": "先想一想", "tool_calls": [{"name": "get_weather", "arguments": {"city": "北京"}}]}]]'
    params = {"messages": [{"role": "user", "content": "天气? " + directive}], "tools": TOOLS}
    body, _ = build_upstream_body(provider, MODELS[provider], "upstream-name", params, True)
    response = post(fake_upstream, provider, body, True)
    assert response.status_code == 200 and upstream_request_id(provider, response.headers)
    parser, translator, out = SSEParser(), StreamTranslator(provider, PUBLIC[provider], True), []
    for piece in response.iter_content(chunk_size=5):
        for event in parser.feed(piece):
            if event.kind == "data" and not event.is_done:
                out += translator.feed(json.loads(event.value))
    out += translator.finish()
    final = accumulate(out)
    assert final.choices[0].message.tool_calls[0].function.arguments == '{"city": "\\u5317\\u4eac"}'
    assert translator.usage is not None and out[-1]["usage"] == translator.usage.to_openai()
    assert fake_upstream.requests()[-1]["body"]["stream_options"] == {"include_usage": True}

    body, _ = build_upstream_body(provider, MODELS[provider], "upstream-name",
                                  {"messages": [{"role": "user", "content": "hi"}]}, False)
    result, usage = normalize_completion(provider, post(fake_upstream, provider, body, False).json(),
                                         PUBLIC[provider], "req_1")
    assert ChatCompletion.model_validate(result).choices[0].message.content and usage.prompt_tokens > 0

    failed = post(fake_upstream, provider, {**body, "messages": [
        {"role": "user", "content": '[[fake:{"balance_exhausted": true}]]'}]}, False)
    failure = classify_http_error(provider, failed.status_code, failed.content, failed.headers)
    assert failure.kind == "balance" and failure.upstream_request_id
