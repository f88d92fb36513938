import json
import random

import pytest

from ethergate.gateway.providers.sse import DONE, SSEError, SSEEvent, SSEParser, encode_comment, encode_event
from tests.fakes import formats

CHUNKS = [
    {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "你好，世界"}}]},
    {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "🙂 emoji + ünïcödé"}}]},
    {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
]


def wire(newline=b"\n", keepalive=True):
    parts = [b": keep-alive" + newline + newline] if keepalive else []
    for chunk in CHUNKS:
        parts.append(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + newline + newline)
    parts.append(b"data: [DONE]" + newline + newline)
    return b"".join(parts)


def parse_in_pieces(data: bytes, rng: random.Random) -> list[SSEEvent]:
    parser, events, position = SSEParser(), [], 0
    while position < len(data):
        step = rng.randint(1, 7)
        events += parser.feed(data[position:position + step])
        position += step
    return events + parser.close()


def data_values(events):
    return [e.value for e in events if e.kind == "data"]


EXPECTED = [json.dumps(c, ensure_ascii=False) for c in CHUNKS] + ["[DONE]"]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_random_byte_splits_never_change_the_events(newline):
    data = wire(newline)
    rng = random.Random(20241124)
    for _ in range(300):
        events = parse_in_pieces(data, rng)
        assert data_values(events) == EXPECTED
        assert [e.value for e in events if e.kind == "comment"] == ["keep-alive"]


def test_every_single_split_point_including_inside_multibyte_characters():
    data = wire(b"\r\n")
    for cut in range(1, len(data)):
        parser = SSEParser()
        events = parser.feed(data[:cut]) + parser.feed(data[cut:]) + parser.close()
        assert data_values(events) == EXPECTED, cut


def test_one_byte_at_a_time():
    parser, events = SSEParser(), []
    for byte in wire(b"\r\n"):
        events += parser.feed(bytes([byte]))
    assert data_values(events + parser.close()) == EXPECTED


def test_multiline_data_is_joined_with_newlines_and_one_leading_space_stripped():
    events = SSEParser().feed(b"data: first\ndata:second\ndata:  third\n\n")
    assert events == [SSEEvent("data", "first\nsecond\n third")]


def test_event_id_and_retry_fields_are_ignored_but_the_event_name_is_kept():
    events = SSEParser().feed(b"event: error\nid: 7\nretry: 1000\ndata: {\"error\": {}}\n\ndata: x\n\n")
    assert events == [SSEEvent("data", '{"error": {}}', "error"), SSEEvent("data", "x", None)]


def test_comments_and_keepalives_come_back_as_comment_events():
    events = SSEParser().feed(b": keep-alive\n\n:ping\n\ndata: 1\n\n")
    assert [(e.kind, e.value) for e in events] == [("comment", "keep-alive"), ("comment", "ping"), ("data", "1")]


def test_blank_lines_without_data_dispatch_nothing():
    assert SSEParser().feed(b"\n\n\r\n\nevent: ping\n\n") == []


def test_close_flushes_a_final_event_without_the_blank_line():
    parser = SSEParser()
    assert parser.feed(b"data: a\n\ndata: tail") == [SSEEvent("data", "a")]
    assert parser.close() == [SSEEvent("data", "tail")]
    assert parser.close() == []


def test_a_leading_byte_order_mark_is_dropped_even_when_split():
    parser = SSEParser()
    events = parser.feed(b"\xef") + parser.feed(b"\xbb") + parser.feed(b"\xbfdata: x\n\n")
    assert events == [SSEEvent("data", "x")]


def test_cr_at_the_end_of_one_feed_and_lf_at_the_start_of_the_next_is_one_line_break():
    parser = SSEParser()
    events = parser.feed(b"data: a\r") + parser.feed(b"\ndata: b\r\n\r\n")
    assert events == [SSEEvent("data", "a\nb")]


def test_done_marker():
    (event,) = SSEParser().feed(DONE)
    assert event.is_done and event.value == "[DONE]"


def test_invalid_utf8_is_replaced_not_raised():
    (event,) = SSEParser().feed(b"data: \xff\xfe ok\n\n")
    assert event.value.endswith(" ok")


def test_a_runaway_line_is_refused():
    parser = SSEParser(max_pending=1024)
    with pytest.raises(SSEError):
        parser.feed(b"data: " + b"x" * 2000)


def test_parses_the_fake_upstream_wire_format_for_every_provider():
    for provider in formats.PROVIDERS:
        answer = formats.Answer(provider, "m", 1, "Hello there world", None, [], "stop",
                                formats.usage_payload(provider, 5, 3), formats.word_pieces("Hello there world"), [])
        data = b"".join(b"data: " + json.dumps(c, ensure_ascii=False).encode() + b"\n\n"
                        for _, c in answer.chunks(True)) + DONE
        events = parse_in_pieces(data, random.Random(provider))
        assert events[-1].is_done
        assert "".join(json.loads(e.value)["choices"][0]["delta"].get("content") or ""
                       for e in events[:-1] if json.loads(e.value)["choices"]) == "Hello there world"


def test_encode_event_is_compact_utf8_json():
    assert encode_event({"a": "你好", "b": [1, 2]}) == 'data: {"a":"你好","b":[1,2]}\n\n'.encode()
    (event,) = SSEParser().feed(encode_event({"text": "line1\nline2"}))
    assert json.loads(event.value) == {"text": "line1\nline2"}


def test_encode_comment_cannot_break_framing():
    assert encode_comment("keep-alive") == b": keep-alive\n\n"
    events = SSEParser().feed(encode_comment("one\ndata: injected"))
    assert [e.kind for e in events] == ["comment"]
