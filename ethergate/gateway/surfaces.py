"""The API shapes /v1 speaks: which key header each reads and which error envelope each answers in.

The request log stores the surface's name; everything between parsing a request and rendering its answer is
shared (see pipeline.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Response

from . import anthropic
from .errors import GatewayError, invalid_api_key


@dataclass(frozen=True)
class Surface:
    name: str | None            # request_logs.surface; None for /v1 endpoints that bill nothing (models, status)
    anthropic_errors: bool = False
    reads_x_api_key: bool = False

    def credential(self, headers) -> str | None:
        """The Authorization header value to authenticate (x-api-key, where read, as a bearer token)."""
        if self.reads_x_api_key and headers.get("x-api-key"):
            return "Bearer " + headers["x-api-key"]
        return headers.get("Authorization")

    def missing_key(self) -> GatewayError:
        if not self.reads_x_api_key:
            return invalid_api_key()
        return GatewayError(401, "invalid_api_key", "The x-api-key header (or Authorization bearer token) is missing, "
                                                    "revoked or unknown.", "authentication_error")

    def error_response(self, error: GatewayError, request_id: str) -> Response:
        if not self.anthropic_errors:
            return error.response(request_id)
        response = Response(json.dumps(anthropic.error_body(error, request_id), ensure_ascii=False),
                            status=error.status, mimetype="application/json")
        for name, value in error.headers.items():
            response.headers[name] = value
        return response


CHAT_COMPLETIONS = Surface("chat_completions")
MESSAGES = Surface("messages", anthropic_errors=True, reads_x_api_key=True)
RESPONSES = Surface("responses")
OTHER = Surface(None)


def surface_for(path: str) -> Surface:
    if path == "/v1/messages" or path.startswith("/v1/messages/"):
        return MESSAGES
    if path == "/v1/responses" or path.startswith("/v1/responses/"):
        return RESPONSES
    if path == "/v1/chat/completions":
        return CHAT_COMPLETIONS
    return OTHER
