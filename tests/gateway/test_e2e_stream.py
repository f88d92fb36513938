"""Streaming over real HTTP: relayed as it arrives, usage only on request, cuts, idle gaps and hang-ups."""
import json
import time

import openai
import pytest
import requests

from .e2e import call, ledger_invariant, live_server, log_row, say, wait_for, with_env  # noqa: F401

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant

MODEL = "qwen/qwen-plus"


def sse_lines(response: requests.Response) -> list[str]:
    return [line for line in response.iter_lines(decode_unicode=True) if line]


def test_chunks_are_relayed_as_they_arrive(client):
    stream = client.chat.completions.create(model=MODEL, stream=True,
                                            messages=say("Draft a product changelog", gap_ms=250, chunks=4))
    arrivals = [(time.monotonic(), chunk) for chunk in stream]
    content = [(at, c.choices[0].delta.content) for at, c in arrivals if c.choices and c.choices[0].delta.content]
    assert len(content) == 4 and "".join(text for _, text in content).startswith("Hello from fake qwen")
    gaps = [later - earlier for (earlier, _), (later, _) in zip(content, content[1:])]
    assert min(gaps) > 0.15, gaps  # a buffering relay would deliver them together at the end


def test_usage_is_always_asked_upstream_but_returned_only_on_request(client, fake_upstream):
    plain = list(client.chat.completions.create(model=MODEL, messages=say("hi"), stream=True))
    assert all(chunk.usage is None and chunk.choices for chunk in plain)
    assert fake_upstream.requests()[-1]["body"]["stream_options"] == {"include_usage": True}

    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=say("hi"), stream=True, stream_options={"include_usage": True})
    chunks = list(raw.parse())
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert all(chunk.usage is None for chunk in chunks[:-1])
    row = log_row(raw.headers["X-Request-Id"])
    assert row.stream and not row.estimated and row.completion_tokens == chunks[-1].usage.completion_tokens
    assert row.ttft_ms is not None and row.cost_micro > 0


def test_keep_alive_comments_are_harmless(live_server, tenant, client):
    body = {"model": MODEL, "messages": say("hi", keepalive=True), "stream": True}
    with call(live_server, tenant.plaintext, body, headers={"X-Request-Id": "keepalive-1"}) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["X-Request-Id"] == "keepalive-1"
        assert response.headers["X-EtherGate-Provider"] == "qwen" and response.headers["X-RateLimit-Limit"]
        lines = sse_lines(response)
    assert lines.count(": keep-alive") >= 3 and lines[-1] == "data: [DONE]"
    chunks = list(client.chat.completions.create(model=MODEL, messages=say("hi", keepalive=True), stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks).startswith("Hello from fake qwen")


def test_cut_after_the_first_byte_ends_with_an_error_event_and_bills_an_estimate(live_server, tenant, client,
                                                                                fake_upstream):
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model=MODEL, stream=True,
                                                    messages=say("hi", drop_after=2, chunks=6)):
            received.append(chunk)
    assert caught.value.code == "provider_request_failed" and caught.value.body["provider"] == "qwen"
    assert "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert len(fake_upstream.requests()) == 1  # no failover once bytes went to the client

    body = {"model": MODEL, "messages": say("hi", drop_after=2, chunks=6), "stream": True}
    with call(live_server, tenant.plaintext, body) as response:
        assert response.status_code == 200
        lines = sse_lines(response)
    error = json.loads(lines[-1].removeprefix("data: "))["error"]
    assert error["code"] == "provider_request_failed" and error["request_id"] == response.headers["X-Request-Id"]
    assert "data: [DONE]" not in lines
    row = log_row(response.headers["X-Request-Id"])
    # The client saw an error: logged as a failed request, billed for the content it did receive.
    assert (row.status_code, row.error_code, row.estimated, row.cancelled) == (502, "provider_request_failed",
                                                                               True, False)
    assert row.completion_tokens > 0 and row.cost_micro > 0

    body["messages"] = say("hi", drop_after=0)
    with call(live_server, tenant.plaintext, body) as response:
        assert "provider_request_failed" in sse_lines(response)[-1]
    row = log_row(response.headers["X-Request-Id"])
    assert (row.status_code, row.error_code, row.cost_micro) == (502, "provider_request_failed", 0)  # nothing billed


def test_client_hang_up_closes_the_upstream_and_bills_what_was_delivered(client, fake_upstream):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, stream=True, messages=say("hi", gap_ms=300, chunks=40, text="word " * 200))
    stream = raw.parse()
    first_two = [next(iter(stream)), next(iter(stream))]
    assert first_two[1].choices[0].delta.content
    stream.close()
    closed_at = time.monotonic()
    assert wait_for(lambda: fake_upstream.requests()[-1]["closed_by_client"], timeout=1.5)
    assert time.monotonic() - closed_at < 1.0
    row = log_row(raw.headers["X-Request-Id"])
    assert (row.cancelled, row.error_code, row.estimated) == (True, "client_cancelled", True)
    assert 0 < row.completion_tokens < 200 and row.cost_micro > 0


def test_failure_before_any_byte_is_a_json_error_not_a_stream(client, fake_upstream):
    fake_upstream.add_behavior("qwen", {"status": 500})
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=MODEL, messages=say("hi"), stream=True)
    assert caught.value.status_code == 502 and caught.value.code == "provider_request_failed"
    assert caught.value.response.headers["Content-Type"].startswith("application/json")
    assert log_row(caught.value.request_id).cost_micro == 0


@with_env(ETHERGATE_IDLE_TIMEOUT="0.5")
def test_idle_upstream_mid_stream_ends_with_an_error_event(client, fake_upstream):
    with pytest.raises(openai.APIError) as caught:
        list(client.chat.completions.create(model=MODEL, messages=say("hi", gap_ms=2000, chunks=3), stream=True))
    assert caught.value.code == "provider_request_failed" and "0.5 s" in caught.value.message
    assert wait_for(lambda: fake_upstream.requests()[-1]["closed_by_client"], timeout=3)
