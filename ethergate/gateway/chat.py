"""POST /v1/chat/completions: the OpenAI shape, passed through the shared pipeline as it is."""
from __future__ import annotations

from flask import g

from . import bp
from .errors import GatewayError
from .json_body import parse_json_body
from .pipeline import named_model, serve
from .providers.sse import DONE, encode_comment, encode_event


class ChatCompletion:
    """A chat-completions request: already in the pipeline's shape, answered in it too."""
    dropped: list[str] = []

    def __init__(self, body: object):
        self.chat = body

    def render(self, completion: dict, usage: dict) -> dict:
        completion["usage"] = usage
        return completion

    def events(self, charge, model, prompt_tokens: int) -> "ChatEvents":
        return ChatEvents(charge.request_id)


class ChatEvents:
    """The relay's chunks as chat.completion.chunk events, ended by [DONE] or an error event."""

    def __init__(self, request_id: str):
        self.request_id = request_id

    def start(self) -> bytes:
        return b""

    def feed(self, chunk: dict) -> bytes:
        return encode_event(chunk)

    def keepalive(self, comment: str) -> bytes:
        return encode_comment(comment)

    def finish(self) -> bytes:
        return DONE

    def fail(self, error: GatewayError) -> bytes:
        return encode_event(error.body(self.request_id))


@bp.post("/chat/completions")
def chat_completions():
    body = parse_json_body()
    named_model(g.charge, body)
    return serve(g.charge, ChatCompletion(body))
