"""Errors on the Responses surface: OpenAI's envelope, as on chat completions, with Responses' own field names.

Before a stream starts, the pipeline answers with GatewayError.response() unchanged; a stream that fails
after response.created ends in an `error` event and `response.failed` (see stream.py).
"""
from __future__ import annotations

from ..errors import GatewayError, invalid_request


def invalid(param: str, problem: str) -> GatewayError:
    """A 400 naming the offending field in OpenAI's JSON-path style ("input[2].content[0].image_url")."""
    return invalid_request(f"Invalid '{param}': {problem}.", param)


def error_body(error: GatewayError, request_id: str | None) -> dict:
    return error.body(request_id)
