"""Property: any answer, split into any chunks, streams as events the official SDKs rebuild exactly.

Answers mix reasoning, text (ASCII, Chinese, emoji) and several tool calls; a stream cut at any point ends
in each surface's error shape, with every event still valid for the SDK's types.
"""
import json

import anthropic
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from ethergate.gateway.anthropic import MessageEvents
from ethergate.gateway.responses import ResponseEvents, translate_responses_request
from tests.gateway.surface_helpers import client_reading, drive, provider_chunk, relay_chunks, sse_events, usage

MODEL = "deepseek/deepseek-v4-flash"
RESPONSE_EVENT = TypeAdapter(ResponseStreamEvent)
text = st.text(st.sampled_from("ab xyz.\n\"{}\\你好世界🙂"), max_size=30)
arguments = st.dictionaries(st.sampled_from(["path", "command", "q", "路径"]),
                            st.one_of(text, st.integers(), st.lists(text, max_size=3)), max_size=3)
answers = st.fixed_dictionaries({
    "reasoning": text, "content": text,
    "calls": st.lists(st.tuples(st.sampled_from(["Read", "shell", "search_web"]), arguments), max_size=3),
})


def pieces(draw, value: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(value)), max_size=4)))
    bounds = [0, *cuts, len(value)]
    return [value[a:b] for a, b in zip(bounds, bounds[1:]) if value[a:b]]


@st.composite
def streams(draw):
    answer = draw(answers)
    chunks = [provider_chunk({"role": "assistant", "content": ""})]
    chunks += [provider_chunk({"reasoning_content": p}) for p in pieces(draw, answer["reasoning"])]
    chunks += [provider_chunk({"content": p}) for p in pieces(draw, answer["content"])]
    for index, (name, args) in enumerate(answer["calls"]):
        encoded = json.dumps(args, ensure_ascii=False)
        parts = pieces(draw, encoded)
        chunks.append(provider_chunk({"tool_calls": [{"index": index, "id": f"call_{index}", "type": "function",
                                                      "function": {"name": name, "arguments": parts[0]}}]}))
        chunks += [provider_chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]})
                   for p in parts[1:]]
    chunks.append(provider_chunk({}, "tool_calls" if answer["calls"] else "stop", usage()))
    return answer, relay_chunks(chunks)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(streams())
def test_anthropic_sdk_rebuilds_any_streamed_answer(case):
    answer, chunks = case
    raw = b"".join(drive(chunks + ["[DONE]"], MessageEvents(MODEL)))
    client, _ = client_reading("anthropic", 200, raw)
    with client.messages.stream(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}]) as stream:
        message = stream.get_final_message()
    expected = ([("thinking", answer["reasoning"])] if answer["reasoning"] else []) + \
        ([("text", answer["content"])] if answer["content"] else []) + \
        [("tool_use", (name, args)) for name, args in answer["calls"]]
    got = [(b.type, b.thinking if b.type == "thinking" else b.text if b.type == "text" else (b.name, b.input))
           for b in message.content]
    assert got == expected
    assert message.stop_reason == ("tool_use" if answer["calls"] else "end_turn")


@FAST
@given(streams())
def test_openai_sdk_rebuilds_any_streamed_answer(case):
    answer, chunks = case
    request = translate_responses_request({"model": MODEL, "input": "x", "stream": True})
    raw = b"".join(drive(chunks + ["[DONE]"], ResponseEvents(request)))
    numbers = [RESPONSE_EVENT.validate_python(data).sequence_number for _, data in sse_events(raw)]
    assert numbers == list(range(len(numbers)))
    client, _ = client_reading("openai", 200, raw)
    with client.responses.stream(model=MODEL, input="x") as stream:
        response = stream.get_final_response()
    assert response.output_text == answer["content"]
    reasoning = [i.content[0].text for i in response.output if i.type == "reasoning"]
    assert reasoning == ([answer["reasoning"]] if answer["reasoning"] else [])
    assert [(i.name, json.loads(i.arguments)) for i in response.output if i.type == "function_call"] \
        == answer["calls"]


@FAST
@given(streams(), st.data())
def test_a_cut_at_any_point_ends_in_each_surfaces_error(case, data):
    _, chunks = case
    kept = chunks[:data.draw(st.integers(0, len(chunks) - 1))]
    raw = b"".join(drive(kept, MessageEvents(MODEL)))
    assert sse_events(raw)[-1][0] == "error"
    client, _ = client_reading("anthropic", 200, raw)
    with pytest.raises(anthropic.APIStatusError):
        with client.messages.stream(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
            s.get_final_message()

    request = translate_responses_request({"model": MODEL, "input": "x", "stream": True})
    events = [RESPONSE_EVENT.validate_python(d) for _, d in sse_events(b"".join(drive(
        kept, ResponseEvents(request))))]
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))


@pytest.mark.parametrize("junk", [{"choices": ["x", None]}, {"choices": [{"index": 0, "delta": "x"}]},
                                  {"choices": [{"index": 0, "delta": {"tool_calls": ["x", None]}}]},
                                  {"choices": [{"index": 1, "delta": {"content": "other choice"}}]}, 42])
def test_malformed_chunks_add_nothing_and_break_nothing(junk):
    request = translate_responses_request({"model": MODEL, "input": "x", "stream": True})
    for events in (MessageEvents(MODEL), ResponseEvents(request)):
        raw = b"".join(drive([junk, *relay_chunks([provider_chunk({"role": "assistant", "content": "ok"}),
                                                    provider_chunk({}, "stop", usage())]), "[DONE]"], events))
        texts = [d["delta"]["text"] if d["type"] == "content_block_delta" else d["delta"] for _, d in sse_events(raw)
                 if d["type"] in ("content_block_delta", "response.output_text.delta")]
        assert texts == ["ok"]
