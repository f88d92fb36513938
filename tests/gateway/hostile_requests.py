"""Hypothesis strategies for hostile /v1 requests: bodies, headers, methods and paths.

Every /v1 endpoint is one entry in ENDPOINTS; a new endpoint plugs in by adding its body strategy there.
Chat bodies start from a valid request (so many reach the fake upstream and its faults) and then break
up to three documented fields, with wrong types, deep nesting, raw number literals and unknown fields.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from hypothesis import strategies as st

from ethergate.gateway.validation import FIELD_CHECKS

from .inprocess import MAX_BODY_BYTES

MODELS = ("deepseek/deepseek-v4-flash", "deepseek/deepseek-v4-pro", "qwen/qwen-plus", "qwen/qwen-flash",
          "moonshot/kimi-k2.6")
# Every documented top-level field of a chat completion request, as the validator knows them.
CHAT_FIELDS = sorted({"model", "messages", "stream", "stream_options", "tool_choice", *FIELD_CHECKS})
CHAT_NESTED = [
    ("messages", 0), ("messages", 0, "role"), ("messages", 0, "content"), ("messages", 0, "content", 0),
    ("messages", 0, "content", 0, "type"), ("messages", 0, "content", 0, "text"),
    ("messages", 0, "content", 0, "image_url"), ("messages", 0, "name"), ("messages", 0, "tool_calls"),
    ("messages", 0, "tool_call_id"), ("messages", 0, "extra"), ("messages", 1),
    ("messages", 1, "tool_calls", 0, "function", "arguments"), ("tools", 0, "function", "parameters"),
    ("tools", 0, "function", "name"), ("tools", 0, "type"), ("response_format", "type"),
    ("response_format", "json_schema", "schema"), ("stream_options", "include_usage"),
    ("tool_choice", "function", "name"), ("logit_bias", "50256"), ("metadata", "k"),
]
# Upstream faults the fake provider acts out, chosen per request through a directive in the prompt.
FAULTS = ({"status": 400, "error_message": "Range of input length should be [1, 30720]"},
          {"status": 500}, {"status": 503}, {"status": 429, "retry_after": 0}, {"balance_exhausted": True},
          {"drop_after": 0}, {"drop_after": 2, "chunks": 4}, {"no_usage": True}, {"chunks": 3},
          {"status": 401}, {"status": 404})
RAW_LITERALS = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "1" + "0" * 5000, "9" * 4000,
                "1.7976931348623157e308", "-0", "123456789012345678901234567890.5", "1E+2")
RAW = re.compile(r'"@@raw:([^"@]*)@@"')
HOSTILE_NAMES = ("ключ", "沜", "a\r\nX-Injected: yes", "\x00", "𝔘𝔫𝔦", "a,b", "%41", " ", "\u2028", "é" * 300)
CONTENT_TYPES = (None, "application/json", "application/json; charset=utf-8", "text/plain",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
                 "application/json; charset=latin-1", "ключ/沜".encode().decode("latin-1"), "")


@dataclass
class HostileRequest:
    method: str
    path: str
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    request_id: str | None = None


def nested(depth: int, kind: str) -> object:
    value: object = []
    for level in range(depth):
        value = [value] if kind == "list" or (kind == "mixed" and level % 2) else {"a": value}
    return value


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
any_json = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                        max_leaves=5)
deep = st.builds(nested, st.integers(2, 1200), st.sampled_from(("list", "dict", "mixed")))
raw_literal = st.sampled_from(RAW_LITERALS).map(lambda literal: f"@@raw:{literal}@@")
hostile_value = st.one_of(any_json, any_json, deep, raw_literal)
field_names = st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(min_size=1, max_size=24))
unknown_fields = st.dictionaries(field_names, any_json, max_size=3)
mutated_path = st.one_of(st.sampled_from(CHAT_FIELDS).map(lambda name: (name,)), st.sampled_from(CHAT_NESTED))
models = st.sampled_from(MODELS)
model_typos = st.text(max_size=12)
faults = st.sampled_from(FAULTS)
choices_of_tool = st.sampled_from(("auto", "none", "required"))
mutation_counts = st.sampled_from((0, 0, 0, 1, 1, 2, 3))


def set_in(body: dict, path: tuple, value: object) -> None:
    """Put `value` at `path`, creating (or replacing with) objects and arrays on the way as the keys need."""
    node = body
    for key, after in zip(path, path[1:]):
        empty = [] if isinstance(after, int) else {}
        if isinstance(key, int):
            while len(node) <= key:
                node.append(empty)
            if not isinstance(node[key], type(empty)):
                node[key] = empty
        elif not isinstance(node.get(key), type(empty)):
            node[key] = empty
        node = node[key]
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


def encode(body: object) -> bytes:
    text = json.dumps(body, ensure_ascii=False, allow_nan=True)
    return RAW.sub(lambda match: match.group(1), text).encode("utf-8", errors="surrogatepass")


@st.composite
def chat_body(draw) -> object:
    fault = draw(faults) if draw(rolls[3]) else None
    prompt = "hi" + (f" [[fake:{json.dumps(fault)}]]" if fault else "")
    body: dict = {"model": draw(model_typos if draw(rolls[8]) else models),
                  "messages": [{"role": "user", "content": prompt}], "max_tokens": 16}
    if not draw(rolls[3]):  # streams more often than not: their holds settle on more paths
        body["stream"] = True
        if draw(rolls[3]):
            body["stream_options"] = {"include_usage": draw(st.booleans())}
    if draw(rolls[4]):
        body["tools"] = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
        body["tool_choice"] = draw(choices_of_tool)
    if draw(rolls[4]):
        body["response_format"] = {"type": "json_object"}
    for _ in range(draw(mutation_counts)):
        set_in(body, draw(mutated_path), draw(hostile_value))
    if draw(rolls[4]):
        body.update(draw(unknown_fields))
    if draw(rolls[6]) and isinstance(body.get("messages"), list) and body["messages"] \
            and isinstance(body["messages"][0], dict):
        body["messages"][0].update(draw(unknown_fields))
    return body


def broken_json(body: bytes, kind: int, cut: int) -> bytes:
    return (body[:cut % max(len(body), 1)],                 # truncated
            body.replace(b'"hi', b'"h\xff\xfei', 1),        # invalid UTF-8
            body.replace(b'"hi', b'"\\ud800hi', 1),         # a lone surrogate escape
            b"\xef\xbb\xbf" + body,                         # a BOM
            body.decode("utf-8", "replace").encode("utf-16"),
            b" " * (MAX_BODY_BYTES + 1) + body)[kind]           # too large


not_json = st.one_of(st.binary(max_size=64), st.sampled_from(
    (b"", b"null", b"[]", b"1", b'"x"', b"{", b"{}", b'{"model": NaN}', b'{"a":1,"a":2}')))


# Strategies are built once: building one per draw costs more than the draw itself.
chat_bodies = chat_body()
body_kinds = st.integers(0, 24)
cuts = st.integers(0, 10 ** 6)


@st.composite
def chat_bytes(draw) -> bytes:
    body = encode(draw(chat_bodies))
    kind = draw(body_kinds)
    if kind < 6:
        return broken_json(body, kind, draw(cuts))
    if kind == 6:
        return draw(not_json)
    return body


def messages_body(chat: object) -> object:
    """A chat body drawn above, reshaped as a Messages request (its breakage carried along)."""
    if not isinstance(chat, dict):
        return chat
    body = {key: value for key, value in chat.items() if key not in ("stream_options", "response_format")}
    if isinstance(body.get("tools"), list):
        body["tools"] = [{"name": "lookup", "input_schema": {"type": "object"}}]
        choice = chat.get("tool_choice")
        kind = {"none": "none", "required": "any"}.get(choice, "auto") if isinstance(choice, str) else "auto"
        body["tool_choice"] = {"type": kind}
    return body


def responses_body(chat: object) -> object:
    """A chat body drawn above, reshaped as a Responses request (its breakage carried along)."""
    if not isinstance(chat, dict):
        return chat
    body = {key: value for key, value in chat.items()
            if key not in ("messages", "max_tokens", "stream_options", "response_format", "tools")}
    body["input"] = chat.get("messages")
    if "max_tokens" in chat:
        body["max_output_tokens"] = chat["max_tokens"]
    if "tools" in chat:
        body["tools"] = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    return body


@st.composite
def surface_bytes(draw, reshape) -> bytes:
    body = encode(reshape(draw(chat_bodies)))
    kind = draw(body_kinds)
    if kind < 6:
        return broken_json(body, kind, draw(cuts))
    if kind == 6:
        return draw(not_json)
    return body


def model_path(model_id: str) -> str:
    return "/v1/models/" + quote(model_id, safe="/")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: st.SearchStrategy
    body: st.SearchStrategy
    weight: int = 1  # how often it is drawn relative to the others


ENDPOINTS = {
    "chat completions": Endpoint("POST", st.just("/v1/chat/completions"), chat_bytes(), weight=6),
    "messages": Endpoint("POST", st.sampled_from(("/v1/messages", "/v1/messages?beta=true")),
                         surface_bytes(messages_body), weight=4),
    "count tokens": Endpoint("POST", st.just("/v1/messages/count_tokens"), surface_bytes(messages_body)),
    "responses": Endpoint("POST", st.just("/v1/responses"), surface_bytes(responses_body), weight=4),
    "models": Endpoint("GET", st.sampled_from(("/v1/models", "/v1/models?limit=ключ", "/v1/models?%ff=%00")),
                       st.one_of(st.none(), st.binary(max_size=32))),
    "model": Endpoint("GET", st.one_of(st.sampled_from(MODELS), st.text(max_size=40)).map(model_path),
                      st.one_of(st.none(), st.binary(max_size=32))),
}
STRAY = st.tuples(st.sampled_from(("GET", "PUT", "DELETE", "PATCH", "POST")),
                  st.sampled_from(("/v1/chat/completions", "/v1/models", "/v1/nope", "/v1/", "/v1/%E6%B2%9C",
                                   "/v1/chat/completions/x", "/v1/messages", "/v1/messages/x",
                                   "/v1/responses", "/v1/responses/x")))

latin1_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200)
utf8_as_latin1 = st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass").decode("latin-1")
                                           .replace("\r", "").replace("\n", ""))


# rolls[n] is True one time in n (a middle value, since Hypothesis favours the ends of a range).
rolls = {n: st.integers(0, n - 1).map(lambda roll, n=n: roll == n // 2) for n in (3, 4, 6, 8, 20)}
request_id_chars = st.sampled_from("abcXYZ0189._:-")
AUTH_GARBLED = ("Bearer", "Bearer ", "bearer {key}", "Basic {key}", "Bearer {key}x", "Bearer {short}",
                "Bearer  {key}", "Bearer {key} extra", "Bearer cr_" + "A" * 40, "Bearer {key}\t")
garbled_auth = st.one_of(st.none(), st.sampled_from(AUTH_GARBLED),
                         latin1_text.map(lambda t: "Bearer " + t.replace("\r", "").replace("\n", "")), utf8_as_latin1)
sane_request_id = st.one_of(st.none(), st.text(request_id_chars, min_size=1, max_size=40))
hostile_request_id = st.one_of(latin1_text.map(lambda t: t.replace("\r", "").replace("\n", "")), utf8_as_latin1,
                               st.just("x" * 129), st.just("a" * 5000))
content_types = st.sampled_from(CONTENT_TYPES)
endpoint_names = st.sampled_from([name for name in sorted(ENDPOINTS) for _ in range(ENDPOINTS[name].weight)])
stray_bodies = st.one_of(st.none(), st.binary(max_size=32))


@functools.lru_cache
def hostile_headers(key: str) -> st.SearchStrategy:
    return _hostile_headers(key)


@st.composite
def _hostile_headers(draw, key: str) -> dict:
    auth = f"Bearer {key}"
    if draw(rolls[6]):
        auth = draw(garbled_auth)
        if auth in AUTH_GARBLED:
            auth = auth.format(key=key, short=key[:-1])
    request_id = draw(hostile_request_id if draw(rolls[3]) else sane_request_id)
    content_type = draw(content_types) if draw(rolls[4]) else "application/json"
    headers = {"Authorization": auth, "X-Request-Id": request_id, "Content-Type": content_type}
    return {name: value for name, value in headers.items() if value is not None}


@st.composite
def hostile_requests(draw, key: str) -> HostileRequest:
    if draw(rolls[20]):
        method, path = draw(STRAY)
        body = draw(stray_bodies)
    else:
        endpoint = ENDPOINTS[draw(endpoint_names)]
        method, path, body = endpoint.method, draw(endpoint.path), draw(endpoint.body)
    headers = draw(hostile_headers(key))
    return HostileRequest(method, path, body, headers, headers.get("X-Request-Id"))
