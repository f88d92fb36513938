"""POST /v1/responses/input_tokens: the request translated as for /v1/responses, then estimated.

The number is token_estimate's stated estimate, not a tokenizer count (see that module). OpenAI lets this
endpoint omit `model`; the estimate does not depend on it.
"""
from __future__ import annotations

from ..token_estimate import estimate_input_tokens
from .request import translate_responses_request


def count_input_tokens(body: object) -> dict:
    """{"object": "response.input_tokens", "input_tokens": n}; raises the same 400s as /v1/responses."""
    if isinstance(body, dict) and not body.get("model"):
        body = {**body, "model": "any"}
    request = translate_responses_request(body)
    return {"object": "response.input_tokens",
            "input_tokens": estimate_input_tokens(request.chat["messages"], request.chat.get("tools"))}
