"""Errors on /v1, always in OpenAI's JSON envelope, with EtherGate codes and the request ID."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from flask import Response


def error_body(message: str, type_: str, code: str, param: str | None = None, provider: str | None = None,
               request_id: str | None = None) -> dict:
    """The one error envelope, for JSON bodies and stream error events alike: OpenAI's four keys, then ours."""
    error = {"message": message, "type": type_, "param": param, "code": code}
    if provider:
        error["provider"] = provider
    if request_id:
        error["request_id"] = request_id
    return {"error": error}


@dataclass
class GatewayError(Exception):
    status: int
    code: str
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    provider: str | None = None
    headers: dict = field(default_factory=dict)

    def body(self, request_id: str | None) -> dict:
        return error_body(self.message, self.type, self.code, self.param, self.provider, request_id)

    def response(self, request_id: str | None) -> Response:
        response = Response(json.dumps(self.body(request_id), ensure_ascii=False), status=self.status,
                            mimetype="application/json")
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


def invalid_request(message: str, param: str | None = None, code: str = "invalid_request_error") -> GatewayError:
    return GatewayError(400, code, message, "invalid_request_error", param)


def invalid_api_key() -> GatewayError:
    return GatewayError(401, "invalid_api_key", "The Authorization bearer token is missing, revoked or unknown.",
                        "authentication_error")


def model_not_found(model: str) -> GatewayError:
    return GatewayError(404, "model_not_found",
                        f"The model {model!r} does not exist. GET /v1/models lists the model IDs you can use.",
                        "invalid_request_error", "model")


def provider_failed(message: str, provider: str | None) -> GatewayError:
    return GatewayError(502, "provider_request_failed", message, "api_error", provider=provider)


def relayed_error(chunk: dict) -> GatewayError | None:
    """The error an error chunk from the relay carries (a stream cut after it started), else None."""
    if not chunk.get("error") or chunk.get("choices"):
        return None
    detail = chunk["error"] if isinstance(chunk["error"], dict) else {"message": str(chunk["error"])}
    return GatewayError(502, detail.get("code") or "provider_request_failed",
                        detail.get("message") or "the provider failed", "api_error", provider=detail.get("provider"))
