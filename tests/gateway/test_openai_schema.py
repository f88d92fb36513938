"""Our answers against OpenAI's own schemas (tests/gateway/openai_spec): completions, every stream chunk,
the model list and model, and error bodies, from each provider the fake upstream speaks for."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from .e2e import say
from .inprocess import funded, gateway_app, stream_events  # noqa: F401

SPEC = Path(__file__).resolve().parent / "openai_spec" / "openapi-trimmed.json"
MODELS = {"deepseek": "deepseek/deepseek-v4-flash", "qwen": "qwen/qwen-plus", "moonshot": "moonshot/kimi-k2.6"}
WEATHER = [{"name": "get_weather", "arguments": {"city": "Hangzhou"}}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def or_null(node):
    """OpenAPI 3.0's `nullable: true`, which the 3.1 spec still uses in places, as JSON Schema's "or null"."""
    if isinstance(node, list):
        return [or_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: or_null(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@pytest.fixture(scope="module")
def schema():
    components = or_null(json.loads(SPEC.read_text(encoding="utf-8"))["components"])

    def validator(name: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": copy.deepcopy(components)})

    def check(name: str, instance) -> None:
        errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])

    return check


@pytest.fixture
def api(gateway_app, funded):
    client = gateway_app.test_client()
    headers = {"Authorization": f"Bearer {funded.plaintext}"}

    def call(method: str, path: str, body=None, raw: bytes | None = None):
        response = client.open(path, method=method, headers=headers,
                               data=raw if raw is not None else (json.dumps(body) if body is not None else None),
                               content_type="application/json")
        data = response.get_data(as_text=True)
        response.close()
        return response, data

    return call


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_completions_and_every_stream_chunk_match_openais_schemas(api, schema, provider):
    model = MODELS[provider]
    bodies = [
        {"model": model, "messages": say("hi")},
        {"model": model, "messages": say("weather?", tool_calls=WEATHER), "tools": TOOLS},
        {"model": model, "messages": say("think", reasoning="Let me think.", text="Done.")},
        {"model": model, "messages": say("hi", no_usage=True), "max_tokens": 2},
    ]
    for body in bodies:
        response, data = api("POST", "/v1/chat/completions", body)
        assert response.status_code == 200, data
        schema("CreateChatCompletionResponse", json.loads(data))

        for include_usage in (False, True):
            streamed = {**body, "stream": True, "stream_options": {"include_usage": include_usage}}
            response, data = api("POST", "/v1/chat/completions", streamed)
            assert response.status_code == 200 and data.rstrip().endswith("data: [DONE]"), data
            chunks = stream_events(data)
            assert chunks and all("error" not in chunk for chunk in chunks), data
            for chunk in chunks:
                schema("CreateChatCompletionStreamResponse", chunk)
            if include_usage and "no_usage" not in json.dumps(body):
                assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_model_list_and_model_match_openais_schemas(api, schema):
    response, data = api("GET", "/v1/models")
    assert response.status_code == 200
    listed = json.loads(data)
    schema("ListModelsResponse", listed)
    for model in listed["data"]:
        response, data = api("GET", f"/v1/models/{model['id']}")
        schema("Model", json.loads(data))


def test_error_bodies_and_the_stream_error_event_match_openais_schema(api, schema, gateway_app, fake_upstream):
    cases = [
        ("POST", "/v1/chat/completions", {"model": MODELS["qwen"], "messages": say("hi"), "temperature": "hot"}, None),
        ("POST", "/v1/chat/completions", None, b"{not json"),
        ("POST", "/v1/chat/completions", {"model": "nobody/nothing", "messages": say("hi")}, None),
        ("POST", "/v1/chat/completions", {"model": MODELS["qwen"], "messages": say("hi", status=400)}, None),
        ("POST", "/v1/chat/completions", {"model": MODELS["deepseek"], "messages": say("hi", status=503)}, None),
        ("POST", "/v1/chat/completions", None, b"{" + b'"a":[' * 100 + b"]" * 100 + b"}"),
        ("POST", "/v1/chat/completions", None, b" " * (gateway_app.config["MAX_BODY_BYTES"] + 1)),
        ("GET", "/v1/models/nobody/nothing", None, None),
        ("DELETE", "/v1/models", None, None),
        ("GET", "/v1/nowhere", None, None),
    ]
    for method, path, body, raw in cases:
        response, data = api(method, path, body, raw)
        assert response.status_code >= 400, data
        schema("ErrorResponse", json.loads(data))

    streamed = {"model": MODELS["deepseek"], "stream": True, "messages": say("hi", chunks=5, drop_after=2)}
    response, data = api("POST", "/v1/chat/completions", streamed)
    errors = [event for event in stream_events(data) if "error" in event]
    assert len(errors) == 1, data
    schema("ErrorResponse", errors[0])
