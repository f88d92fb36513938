"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages shape over the shared pipeline.

The key comes in x-api-key or Authorization: Bearer; anthropic-version, anthropic-beta and ?beta=true are
accepted and change nothing. Every error, from a bad key to a failed provider, is in Anthropic's envelope
(surfaces.MESSAGES).
"""
from __future__ import annotations

from flask import g, jsonify

from . import anthropic, bp
from .errors import model_not_found
from .json_body import parse_json_body
from .pipeline import named_model, serve


class AnthropicMessage:

    def __init__(self, translated: anthropic.MessagesRequest):
        self.translated = translated
        self.chat, self.dropped = translated.chat, translated.dropped

    def render(self, completion: dict, usage: dict) -> dict:
        t = self.translated
        return anthropic.message_from_completion(completion, model=t.model, omit_thinking=t.omit_thinking,
                                                 usage=usage, tool_names=t.tool_names)

    def events(self, charge, model, prompt_tokens: int) -> anthropic.MessageEvents:
        """The relay's renderer: message_start goes out first, before the provider's tokens."""
        t = self.translated
        return anthropic.MessageEvents(t.model, request_id=charge.request_id, input_tokens=prompt_tokens,
                                       omit_thinking=t.omit_thinking, tool_names=t.tool_names)


@bp.post("/messages")
def create_message():
    body = parse_json_body()
    model = named_model(g.charge, body)
    translated = anthropic.translate_messages_request(body, provider=model.provider if model else None)
    return serve(g.charge, AnthropicMessage(translated))


@bp.post("/messages/count_tokens")
def count_message_tokens():
    body = parse_json_body()
    model = named_model(g.charge, body)
    counted = anthropic.count_tokens(body)
    if model is None:
        raise model_not_found(body["model"])
    return jsonify(counted)
