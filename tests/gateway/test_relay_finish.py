"""A stream's relay after its last event: the upstream connection goes back to the pool, and a client that
hangs up at that moment must not close it there (another request may already be reading from it).

A check of the client's socket that was already under way when the stream ended can still call back after
the relay finished; the relay then leaves the upstream alone.
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from flask import Flask

from ethergate.gateway.relay import Relay

pytestmark = pytest.mark.one_engine


def sse(payload) -> bytes:
    return b"data: " + (payload if isinstance(payload, bytes) else json.dumps(payload).encode()) + b"\n\n"


class FakeStream:
    def __init__(self, body: bytes):
        self.first, self.attempts, self.upstream_request_id = body, [], "up-1"
        self.route = SimpleNamespace(provider="deepseek", upstream_model="deepseek-chat")
        self.closed = False

    def close(self):
        self.closed = True


class FakeUpstream:
    idle_timeout = 60

    def __init__(self):
        self.finished = []

    def read_next(self, _stream):
        return b""

    def finish(self, stream):
        self.finished.append(stream)


class FakeBilling:
    currency = "CNY"

    def __init__(self):
        self.charge = SimpleNamespace(started=0.0, request_id="req_test")
        self.resolved = self.streaming = False
        self.captured = []

    def price(self, usage, estimated):
        return SimpleNamespace(usage=usage, usage_fields=lambda currency: {})

    def capture(self, receipt, **fields):
        self.resolved = True
        self.captured.append(fields)

    def void(self, **fields):
        self.resolved = True


class Render:
    def start(self):
        return b""

    def feed(self, chunk):
        return sse(chunk)

    def keepalive(self, comment):
        return b": " + comment.encode() + b"\n\n"

    def finish(self):
        return sse(b"[DONE]")

    def fail(self, error):
        return sse({"error": str(error)})


def test_a_client_hanging_up_after_the_last_event_leaves_the_pooled_connection_alone():
    body = (sse({"id": "c1", "object": "chat.completion.chunk", "model": "deepseek-chat",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]})
            + sse({"id": "c1", "object": "chat.completion.chunk", "model": "deepseek-chat",
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}})
            + sse(b"[DONE]"))
    stream, upstream, billing = FakeStream(body), FakeUpstream(), FakeBilling()
    with Flask(__name__).app_context():
        relay = Relay(upstream, stream, "deepseek/deepseek-v4-flash", False, billing, {}, Render())
        events = b"".join(relay.events())
    assert events.endswith(sse(b"[DONE]")) and billing.captured[0]["status_code"] == 200
    assert upstream.finished == [stream] and not stream.closed  # handed back to the pool for reuse

    relay._client_gone()  # the watcher's callback, running a turn after the relay finished

    assert not stream.closed and not relay.cancelled


def test_a_client_hanging_up_mid_stream_still_closes_the_upstream():
    stream, upstream, billing = FakeStream(b""), FakeUpstream(), FakeBilling()
    with Flask(__name__).app_context():
        relay = Relay(upstream, stream, "deepseek/deepseek-v4-flash", False, billing, {}, Render())
    relay._client_gone()
    assert stream.closed and relay.cancelled
