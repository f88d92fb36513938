"""Self-tests of the fake upstream: wire formats, behaviours, control API and real HTTP/1.1."""

import json
import signal
import socket
import time

import openai
import pytest
import requests

from .upstream import FakeUpstream

PROVIDERS = ("deepseek", "qwen", "moonshot")
MODELS = {"deepseek": "deepseek-chat", "qwen": "qwen-plus", "moonshot": "moonshot-v1-8k"}
KEY = "sk-test-123"
# Default conversation: "be brief" (2 words + 4) + "hello there" (2 words + 4).
PROMPT_TOKENS = 12


@pytest.fixture(scope="module")
def fake():
    upstream = FakeUpstream.start()
    yield upstream
    upstream.stop()


@pytest.fixture(autouse=True)
def clean(fake):
    fake.clear()


@pytest.fixture
def http():
    with requests.Session() as session:
        session.trust_env = False
        yield session


def directive(**behavior):
    return "hello there [[fake:%s]]" % json.dumps(behavior)


def post_chat(http, fake, provider, content="hello there", stream=False, model=None, headers=None,
              timeout=10, **extra):
    body = {"model": model or MODELS[provider],
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": content}],
            **extra}
    if stream:
        body["stream"] = True
    return http.post(fake.base_url(provider) + "/chat/completions", json=body, stream=stream, timeout=timeout,
                     headers={"Authorization": "Bearer " + KEY, **(headers or {})})


def read_sse(resp):
    """[(arrival time, item)] where item is a chunk dict, "[DONE]" or an SSE comment line."""
    events = []
    for line in resp.iter_lines(chunk_size=None):
        if not line:
            continue
        line = line.decode("utf-8")
        if line.startswith(":"):
            events.append((time.monotonic(), line))
            continue
        assert line.startswith("data: "), line
        data = line[len("data: "):]
        events.append((time.monotonic(), data if data == "[DONE]" else json.loads(data)))
    return events


def stream_chunks(resp):
    items = [item for _, item in read_sse(resp) if not (isinstance(item, str) and item.startswith(":"))]
    assert items[-1] == "[DONE]"
    return items[:-1]


def contents(chunks):
    return [c["choices"][0]["delta"]["content"] for c in chunks
            if c["choices"] and c["choices"][0]["delta"].get("content")]


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def default_usage(provider, prompt=PROMPT_TOKENS, completion=5, cached=0, reasoning=None):
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if provider == "moonshot":
        return dict(usage, cached_tokens=cached)
    usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if provider == "deepseek":
        usage.update(prompt_cache_hit_tokens=cached, prompt_cache_miss_tokens=prompt - cached)
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def raw_request(port, path, body, headers=""):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    payload = json.dumps(body).encode()
    sock.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                  "Content-Length: %d\r\n%s\r\n" % (path, KEY, len(payload), headers)).encode() + payload)
    return sock


def read_all(sock):
    data = b""
    while True:
        part = sock.recv(65536)
        if not part:
            return data
        data += part


# -- non-streamed -----------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_non_stream_answer_and_usage_shape(http, fake, provider):
    resp = post_chat(http, fake, provider)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert int(resp.headers["Content-Length"]) == len(resp.content)
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == MODELS[provider]
    assert resp.headers["x-request-id"] == body["id"]
    assert body["choices"][0]["message"] == {"role": "assistant",
                                             "content": "Hello from fake %s %s." % (provider, MODELS[provider])}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == default_usage(provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_reasoning_and_usage_overrides_in_provider_shape(http, fake, provider):
    content = directive(reasoning="let me think", usage={"prompt_tokens": 20, "cached_tokens": 3})
    body = post_chat(http, fake, provider, content=content).json()
    assert body["choices"][0]["message"]["reasoning_content"] == "let me think"
    expected = default_usage(provider, prompt=20, completion=8, cached=3, reasoning=3)
    assert body["usage"] == expected


@pytest.mark.parametrize("limit_key", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_truncates_with_finish_reason_length(http, fake, limit_key):
    body = post_chat(http, fake, "deepseek", **{limit_key: 2}).json()
    assert body["choices"][0]["message"]["content"] == "Hello from"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 2
    chunks = stream_chunks(post_chat(http, fake, "deepseek", stream=True, **{limit_key: 2}))
    assert contents(chunks) == ["Hello ", "from"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_no_usage(http, fake):
    assert "usage" not in post_chat(http, fake, "qwen", content=directive(no_usage=True)).json()
    chunks = stream_chunks(post_chat(http, fake, "moonshot", content=directive(no_usage=True), stream=True))
    assert not any("usage" in c or "usage" in c["choices"][0] for c in chunks)


# -- streamed ---------------------------------------------------------------------


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_usage_placement(http, fake, provider, include_usage):
    extra = {"stream_options": {"include_usage": True}} if include_usage else {}
    resp = post_chat(http, fake, provider, stream=True, **extra)
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert resp.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in resp.headers
    chunks = stream_chunks(resp)
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == resp.headers["x-request-id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    model = MODELS[provider]
    assert contents(chunks) == ["Hello ", "from ", "fake ", provider + " ", model + "."]
    finishes = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finishes) == 1 and finishes[0]["choices"][0]["finish_reason"] == "stop"
    finish, usage = finishes[0], default_usage(provider)

    if provider == "deepseek":
        if include_usage:
            assert finish is chunks[-1] and finish["usage"] == usage
            assert all(c["usage"] is None for c in chunks[:-1])
        else:
            assert not any("usage" in c for c in chunks)
    elif provider == "qwen":
        if include_usage:
            assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == usage
            assert all(c["usage"] is None for c in chunks[:-1])
        else:
            assert not any("usage" in c for c in chunks)
    else:
        assert finish is chunks[-1] and finish["choices"][0]["usage"] == usage
        assert not any("usage" in c for c in chunks)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_calls(http, fake, provider):
    calls = [{"name": "get_weather", "arguments": '{"city": "Beijing", "unit": "c"}'},
             {"name": "get_time", "arguments": '{"tz": "Asia/Shanghai"}'}]
    message = post_chat(http, fake, provider, content=directive(tool_calls=calls)).json()["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    assert message["message"]["content"] is None
    assert [(t["type"], t["function"]["name"], t["function"]["arguments"]) for t in message["message"]["tool_calls"]] \
        == [("function", c["name"], c["arguments"]) for c in calls]

    chunks = stream_chunks(post_chat(http, fake, provider, content=directive(tool_calls=calls), stream=True))
    deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls", [])]
    for index, call in enumerate(calls):
        mine = [d for d in deltas if d["index"] == index]
        head, rest = mine[0], mine[1:]
        assert head["id"].startswith("call_") and head["type"] == "function"
        assert head["function"] == {"name": call["name"], "arguments": ""}
        assert len(rest) == 3
        assert all(set(d) == {"index", "function"} and set(d["function"]) == {"arguments"} for d in rest)
        assert "".join(d["function"]["arguments"] for d in rest) == call["arguments"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_reasoning_deltas_come_before_content(http, fake):
    resp = post_chat(http, fake, "deepseek", content=directive(reasoning="step one two", text="done now"),
                     stream=True, stream_options={"include_usage": True})
    chunks = stream_chunks(resp)
    deltas = [c["choices"][0]["delta"] for c in chunks[1:-1]]
    assert deltas == [{"content": None, "reasoning_content": "step "}, {"content": None, "reasoning_content": "one "},
                      {"content": None, "reasoning_content": "two"}, {"content": "done "}, {"content": "now"}]
    assert chunks[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 3}
    assert chunks[-1]["usage"]["completion_tokens"] == 5


def test_chunks_and_gap_timing(http, fake):
    start = time.monotonic()
    resp = post_chat(http, fake, "qwen", content=directive(text="abcdefghij", chunks=4, gap_ms=150), stream=True)
    timed = [(t, c) for t, c in read_sse(resp) if isinstance(c, dict) and contents([c])]
    assert "".join(contents([c for _, c in timed])) == "abcdefghij"
    assert len(timed) == 4
    spread = timed[-1][0] - timed[0][0]
    assert 0.4 <= spread < 2.0, spread
    assert time.monotonic() - start < 3.0


def test_delay_before_headers(http, fake):
    start = time.monotonic()
    resp = post_chat(http, fake, "moonshot", content=directive(delay_ms=300))
    assert resp.status_code == 200
    assert time.monotonic() - start >= 0.29


def test_keepalive_comments(http, fake):
    items = [item for _, item in read_sse(post_chat(http, fake, "deepseek", content=directive(keepalive=True),
                                                        stream=True))]
    assert items[0] == ": keep-alive"
    body = items[:-1]
    assert body[0::2] == [": keep-alive"] * (len(body) // 2)
    assert all(isinstance(item, dict) for item in body[1::2])


# -- errors -----------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_status_errors_with_provider_body_and_retry_after(http, fake, provider):
    resp = post_chat(http, fake, provider, content=directive(status=429, retry_after=7))
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "7"
    body = resp.json()
    if provider == "deepseek":
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    elif provider == "qwen":
        assert set(body) == {"error", "request_id"} and body["request_id"] == resp.headers["x-request-id"]
        assert body["error"]["code"] == "limit_requests"
    else:
        assert body == {"error": {"message": body["error"]["message"], "type": "rate_limit_reached_error"}}

    assert post_chat(http, fake, provider, content=directive(status=429)).headers["Retry-After"] == "1"

    resp = post_chat(http, fake, provider, content=directive(status=503, error_message="busy", error_type="overloaded",
                                                            error_code="try_later"))
    assert resp.status_code == 503 and "Retry-After" not in resp.headers
    assert {k: resp.json()["error"][k] for k in ("message", "type", "code")} == \
        {"message": "busy", "type": "overloaded", "code": "try_later"}


BALANCE = {
    "deepseek": (402, {"message": "Insufficient Balance", "type": "unknown_error", "param": None,
                       "code": "invalid_request_error"}),
    "qwen": (400, {"type": "Arrearage", "param": None, "code": "Arrearage"}),
    "moonshot": (429, {"type": "exceeded_current_quota_error"}),
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_balance_exhausted(http, fake, provider):
    resp = post_chat(http, fake, provider, content=directive(balance_exhausted=True))
    status, error = BALANCE[provider]
    assert resp.status_code == status
    assert "Retry-After" not in resp.headers
    assert {k: v for k, v in resp.json()["error"].items() if k in error} == error
    assert "balance" in resp.json()["error"]["message"].lower() or provider == "qwen"


@pytest.mark.parametrize("provider,status,error_type", [("deepseek", 401, "authentication_error"),
                                                         ("qwen", 401, "invalid_request_error"),
                                                         ("moonshot", 401, "invalid_authentication_error")])
def test_missing_authorization(http, fake, provider, status, error_type):
    resp = http.post(fake.base_url(provider) + "/chat/completions",
                     json={"model": MODELS[provider], "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == status
    assert resp.json()["error"]["type"] == error_type
    assert fake.requests()[-1]["authorization"] is None


def test_unknown_behavior_key_is_rejected(http, fake):
    resp = post_chat(http, fake, "qwen", content=directive(txet="typo"))
    assert resp.status_code == 400
    assert "txet" in resp.json()["error"]["message"]
    with pytest.raises(RuntimeError, match="unknown behavior keys"):
        fake.add_behavior("qwen", {"gap_sm": 3})


# -- connection-level misbehaviour ------------------------------------------------


def test_drop_after_mid_stream(http, fake):
    resp = post_chat(http, fake, "deepseek", content=directive(drop_after=2), stream=True)
    seen = []
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        for line in resp.iter_lines(chunk_size=None):
            seen.append(line)
    chunks = [json.loads(line[len(b"data: "):]) for line in seen if line.startswith(b"data: ")]
    assert contents(chunks) == ["Hello ", "from "]
    assert b"data: [DONE]" not in seen

    port = int(fake.url.rsplit(":", 1)[1])
    sock = raw_request(port, "/qwen/compatible-mode/v1/chat/completions",
                       {"model": "qwen-plus", "stream": True,
                        "messages": [{"role": "user", "content": directive(drop_after=1)}]})
    wire = read_all(sock)
    sock.close()
    assert b"Transfer-Encoding: chunked" in wire and b'"content":"Hello "' in wire
    assert not wire.endswith(b"0\r\n\r\n") and b"[DONE]" not in wire


def test_drop_after_non_stream_closes_without_response(http, fake):
    with pytest.raises(requests.exceptions.ConnectionError):
        post_chat(http, fake, "moonshot", content=directive(drop_after=0))
    assert fake.requests()[-1]["status"] is None


def test_hang_until_client_gives_up(http, fake):
    with pytest.raises(requests.exceptions.ReadTimeout):
        post_chat(http, fake, "qwen", content=directive(hang=True), timeout=0.5)
    http.close()
    assert wait_for(lambda: fake.requests()[-1]["closed_by_client"])


def test_client_closing_mid_stream_is_recorded(fake):
    port = int(fake.url.rsplit(":", 1)[1])
    sock = raw_request(port, "/deepseek/chat/completions",
                       {"model": "deepseek-chat", "stream": True,
                        "messages": [{"role": "user", "content": directive(gap_ms=300)}]})
    assert b"200 OK" in sock.recv(65536)
    sock.close()
    assert wait_for(lambda: fake.requests()[-1]["closed_by_client"])


# -- control API and recording ----------------------------------------------------


def test_recording(http, fake):
    post_chat(http, fake, "qwen", content="first one", headers={"X-Trace": "abc"})
    list(post_chat(http, fake, "deepseek", stream=True).iter_lines())
    first, second = fake.requests()
    assert (first["provider"], first["path"], first["method"]) == \
        ("qwen", "/qwen/compatible-mode/v1/chat/completions", "POST")
    assert first["authorization"] == "Bearer " + KEY
    assert first["headers"]["authorization"] == "Bearer " + KEY and first["headers"]["x-trace"] == "abc"
    assert all(name == name.lower() for name in first["headers"])
    assert first["model"] == "qwen-plus"
    assert first["body"]["messages"][1] == {"role": "user", "content": "first one"}
    assert first["stream"] is False and second["stream"] is True
    assert abs(first["received_at"] - time.time()) < 30
    assert first["closed_by_client"] is False and second["closed_by_client"] is False
    assert second["seq"] > first["seq"]
    assert [r["seq"] for r in fake.requests(since=first["seq"])] == [second["seq"]]

    fake.clear()
    assert fake.requests() == []
    post_chat(http, fake, "moonshot")
    assert fake.requests()[0]["seq"] > second["seq"]


def test_behavior_rules_with_times(http, fake):
    fake.add_behavior("qwen", {"status": 503}, model="qwen-plus", times=2)
    fake.add_behavior("qwen", {"text": "from the rule", "usage": {"cached_tokens": 5}})

    assert post_chat(http, fake, "qwen", model="qwen-max").json()["choices"][0]["message"]["content"] \
        == "from the rule"
    assert [post_chat(http, fake, "qwen").status_code for _ in range(2)] == [503, 503]
    assert post_chat(http, fake, "qwen").json()["choices"][0]["message"]["content"] == "from the rule"
    assert post_chat(http, fake, "deepseek").json()["choices"][0]["message"]["content"] \
        == "Hello from fake deepseek deepseek-chat."

    body = post_chat(http, fake, "qwen", content=directive(text="from the directive")).json()
    assert body["choices"][0]["message"]["content"] == "from the directive"
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 5}

    fake.clear_behaviors()
    assert post_chat(http, fake, "qwen").json()["choices"][0]["message"]["content"] == "Hello from fake qwen qwen-plus."


def test_keep_alive_reuses_one_connection(http, fake):
    for _ in range(3):
        resp = post_chat(http, fake, "deepseek")
        assert resp.status_code == 200 and resp.headers["Connection"] == "keep-alive"
    assert stream_chunks(post_chat(http, fake, "qwen", stream=True))
    assert post_chat(http, fake, "moonshot", content=directive(status=500)).status_code == 500
    assert http.get(fake.base_url("moonshot") + "/models", headers={"Authorization": "Bearer " + KEY}).ok
    records = fake.requests()
    assert len(records) == 6
    assert len({r["peer"] for r in records}) == 1


def test_models_and_unknown_paths(http, fake):
    auth = {"Authorization": "Bearer " + KEY}
    for provider in PROVIDERS:
        listing = http.get(fake.base_url(provider) + "/models", headers=auth).json()
        assert listing["object"] == "list" and MODELS[provider] in [m["id"] for m in listing["data"]]
    assert http.get(fake.url + "/deepseek/v1/models", headers=auth).ok
    assert http.post(fake.url + "/deepseek/v1/chat/completions", headers=auth,
                     json={"model": "deepseek-chat", "messages": [{"role": "user", "content": "x"}]}).ok
    assert http.get(fake.base_url("qwen") + "/models").status_code == 401
    assert http.get(fake.url + "/nowhere").status_code == 404
    resp = http.post(fake.url + "/qwen/compatible-mode/v2/chat/completions", headers=auth, json={})
    assert resp.status_code == 404 and "request_id" in resp.json()
    assert http.get(fake.url + "/_fake/health").json() == {"ok": True}


# -- real clients and load --------------------------------------------------------


def test_openai_sdk_against_qwen(fake):
    client = openai.OpenAI(base_url=fake.base_url("qwen"), api_key=KEY, max_retries=0, timeout=10)
    messages = [{"role": "user", "content": "hello there"}]
    completion = client.chat.completions.create(model="qwen-plus", messages=messages)
    assert completion.choices[0].message.content == "Hello from fake qwen qwen-plus."
    assert completion.usage.total_tokens == 11 and completion.usage.prompt_tokens_details.cached_tokens == 0

    chunks = list(client.chat.completions.create(model="qwen-plus", messages=messages, stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from fake qwen qwen-plus."
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5

    calls = [{"name": "lookup", "arguments": '{"q": "tea"}'}]
    tool_chunks = list(client.chat.completions.create(
        model="qwen-plus", stream=True, messages=[{"role": "user", "content": directive(tool_calls=calls)}]))
    arguments = "".join(tc.function.arguments or "" for c in tool_chunks for tc in c.choices[0].delta.tool_calls or [])
    assert arguments == '{"q": "tea"}'
    assert [m.id for m in client.models.list()][0] == "qwen-plus"

    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="qwen-plus",
                                       messages=[{"role": "user", "content": directive(balance_exhausted=True)}])
    assert err.value.code == "Arrearage"


def test_openai_sdk_against_deepseek_and_moonshot(fake):
    deepseek = openai.OpenAI(base_url=fake.base_url("deepseek"), api_key=KEY, max_retries=0, timeout=10)
    chunks = list(deepseek.chat.completions.create(
        model="deepseek-reasoner", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": directive(reasoning="hmm ok", keepalive=True)}]))
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks)
    assert reasoning == "hmm ok"
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 2
    with pytest.raises(openai.APIStatusError) as err:
        deepseek.chat.completions.create(model="deepseek-chat",
                                         messages=[{"role": "user", "content": directive(balance_exhausted=True)}])
    assert err.value.status_code == 402

    moonshot = openai.OpenAI(base_url=fake.base_url("moonshot"), api_key=KEY, max_retries=0, timeout=10)
    chunks = list(moonshot.chat.completions.create(model="kimi-k2-turbo-preview", stream=True,
                                                   messages=[{"role": "user", "content": "hi"}]))
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices[0].model_extra["usage"]["total_tokens"] == 10
    with pytest.raises(openai.RateLimitError):
        moonshot.chat.completions.create(model="kimi-k2-turbo-preview",
                                         messages=[{"role": "user", "content": directive(balance_exhausted=True)}])


def test_hundreds_of_hanging_connections_and_concurrent_streams(fake):
    port = int(fake.url.rsplit(":", 1)[1])
    hanging = [raw_request(port, "/moonshot/v1/chat/completions",
                           {"model": "kimi", "messages": [{"role": "user", "content": directive(hang=True)}]})
               for _ in range(300)]
    assert wait_for(lambda: len(fake.requests()) == 300)
    start = time.monotonic()
    streams = [raw_request(port, "/qwen/compatible-mode/v1/chat/completions",
                           {"model": "qwen-plus", "stream": True,
                            "messages": [{"role": "user", "content": directive(gap_ms=100, chunks=5)}]},
                           headers="Connection: close\r\n")
               for _ in range(200)]
    for sock in streams:
        wire = read_all(sock)
        sock.close()
        assert wire.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")
    # 200 streams of ~0.6 s each only fit this budget if they run concurrently.
    assert time.monotonic() - start < 8
    for sock in hanging:
        sock.close()
    assert wait_for(lambda: all(r["closed_by_client"] for r in fake.requests()
                                if r["provider"] == "moonshot"), timeout=10)


def test_sequential_throughput_is_reasonable(http, fake):
    start = time.monotonic()
    for _ in range(300):
        assert post_chat(http, fake, "deepseek").status_code == 200
    assert time.monotonic() - start < 6


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_exit_cleanly(signum):
    upstream = FakeUpstream.start()
    port = int(upstream.url.rsplit(":", 1)[1])
    sock = raw_request(port, "/deepseek/chat/completions",
                       {"model": "deepseek-chat", "messages": [{"role": "user", "content": directive(hang=True)}]})
    assert wait_for(lambda: len(upstream.requests()) == 1)
    upstream.process.send_signal(signum)
    assert upstream.process.wait(5) == 0
    sock.close()
    upstream.stop()
