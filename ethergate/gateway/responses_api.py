"""POST /v1/responses and /v1/responses/input_tokens: OpenAI's Responses shape (stateless) over the pipeline."""
from __future__ import annotations

from flask import g, jsonify

from . import bp, responses
from .errors import model_not_found
from .json_body import parse_json_body
from .pipeline import named_model, serve


class ResponseRequest:

    def __init__(self, translated: responses.ResponsesRequest):
        self.translated = translated
        self.chat, self.dropped = translated.chat, translated.dropped

    def render(self, completion: dict, usage: dict) -> dict:
        return responses.response_from_completion(completion, self.translated, usage=usage)

    def events(self, charge, model, prompt_tokens: int) -> responses.ResponseEvents:
        """The relay's renderer: response.created goes out first, before the provider's tokens."""
        return responses.ResponseEvents(self.translated, request_id=charge.request_id)


@bp.post("/responses")
def create_response():
    body = parse_json_body()
    model = named_model(g.charge, body)
    translated = responses.translate_responses_request(body, provider=model.provider if model else None)
    return serve(g.charge, ResponseRequest(translated))


@bp.post("/responses/input_tokens")
def count_input_tokens():
    body = parse_json_body()
    named = named_model(g.charge, body)
    counted = responses.count_input_tokens(body)
    if named is None and isinstance(body, dict) and body.get("model"):
        raise model_not_found(str(body["model"]))
    return jsonify(counted)
