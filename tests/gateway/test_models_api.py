"""GET /v1/models and /v1/models/<id> through the Flask test client on the real app.

Requests carry a real cr_ key through the /v1 blueprint's own authentication; the full behaviour of
authentication (revoked, expired, rate-limited keys) is covered by the gateway end-to-end tests.
"""
from datetime import datetime, timezone

import pytest

from ethergate.catalog.snapshot import get_snapshot
from ethergate.gateway import models_api

SECRET = "sk-provider-secret-never-shown"
MODEL_FIELDS = {"id", "object", "created", "owned_by", "name", "description", "context_length",
                "max_output_tokens", "capabilities", "pricing", "ready", "not_ready_reason", "aliases"}


@pytest.fixture
def api(app):
    app.config["PROVIDER_KEYS"] = {"deepseek": SECRET, "qwen": None, "moonshot": None}
    return app.test_client()


@pytest.fixture
def headers(factories):
    def make(allowed_models=None) -> dict:
        tenant = factories.tenant(allowed_models=allowed_models, rpm_limit=1000)
        return {"Authorization": f"Bearer {tenant.plaintext}"}
    return make


WORKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def test_list_is_openai_shaped_and_sorted(api, headers):
    response = api.get("/v1/models", headers=headers())
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["X-Request-Id"]
    payload = response.get_json()
    assert payload["object"] == "list"
    ids = [item["id"] for item in payload["data"]]
    assert ids == sorted(get_snapshot().models)
    assert {"deepseek/deepseek-chat", "deepseek/deepseek-v4-flash", "qwen/qwen-plus"} <= set(ids)
    for item in payload["data"]:
        assert set(item) == MODEL_FIELDS
        assert item["object"] == "model" and item["owned_by"] == item["id"].split("/")[0]
        assert isinstance(item["created"], int) and item["capabilities"] == sorted(item["capabilities"])


def test_model_metadata_and_pricing(api, headers):
    data = {item["id"]: item for item in api.get("/v1/models", headers=headers()).get_json()["data"]}
    flash = data["deepseek/deepseek-v4-flash"]
    assert flash["created"] == int(datetime(2026, 9, 10, tzinfo=timezone.utc).timestamp())
    assert flash["name"] == "DeepSeek V4.1 Flash" and flash["context_length"] == 1048576
    assert flash["max_output_tokens"] == 393216
    assert flash["capabilities"] == ["json_mode", "reasoning", "streaming", "tools", "vision"]
    assert "deepseek/deepseek-reasoner" in flash["aliases"]
    assert flash["pricing"] == {
        "currency": "CNY", "unit": "per_million_tokens", "input": "1.00", "cached_input": "0.02", "output": "4.00",
        "windows": [
            {"name": "peak", "start": "09:00", "end": "12:00", "tz": "Asia/Shanghai", "days": WORKDAYS,
             "holidays": "cn", "input": "2.00", "cached_input": "0.04", "output": "8.00"},
            {"name": "peak", "start": "14:00", "end": "18:00", "tz": "Asia/Shanghai", "days": WORKDAYS,
             "holidays": "cn", "input": "2.00", "cached_input": "0.04", "output": "8.00"}]}
    plus = data["qwen/qwen-plus"]
    assert plus["created"] == 0 and plus["aliases"] == []
    assert plus["pricing"]["input"] == "0.80" and plus["pricing"]["output"] == "2.00"
    assert [tier["up_to"] for tier in plus["pricing"]["tiers"]] == [131072, 262144, None]
    assert plus["pricing"]["tiers"][2] == {"up_to": None, "input": "4.80", "cached_input": "0.96",
                                           "output": "48.00"}
    assert "windows" not in plus["pricing"]


def test_readiness_follows_provider_keys_without_revealing_them(api, app, headers):
    auth = headers()
    response = api.get("/v1/models", headers=auth)
    assert SECRET not in response.get_data(as_text=True)
    data = {item["id"]: item for item in response.get_json()["data"]}
    assert data["deepseek/deepseek-chat"]["ready"] is True
    assert data["deepseek/deepseek-chat"]["not_ready_reason"] is None
    assert data["qwen/qwen-plus"]["ready"] is False
    assert data["qwen/qwen-plus"]["not_ready_reason"] == (
        "provider qwen is not configured: ETHERGATE_QWEN_API_KEY is not set")

    app.config["PROVIDER_KEYS"] = {"deepseek": None, "qwen": "sk-q", "moonshot": None}
    data = {item["id"]: item for item in api.get("/v1/models", headers=auth).get_json()["data"]}
    assert data["qwen/qwen-plus"]["ready"] is True and data["deepseek/deepseek-chat"]["ready"] is False


def test_currency_comes_from_config(api, app, headers):
    app.config["CURRENCY"] = "USD"
    item = api.get("/v1/models/qwen/qwen-plus", headers=headers()).get_json()
    assert item["pricing"]["currency"] == "USD"


def test_key_with_allowed_models_sees_only_those(api, headers):
    auth = headers(allowed_models=["qwen/qwen-plus", "deepseek/deepseek-reasoner"])
    ids = [item["id"] for item in api.get("/v1/models", headers=auth).get_json()["data"]]
    assert ids == ["deepseek/deepseek-v4-flash", "qwen/qwen-plus"]
    assert api.get("/v1/models/qwen/qwen-plus", headers=auth).status_code == 200
    assert api.get("/v1/models/deepseek/deepseek-flash", headers=auth).status_code == 200
    hidden = api.get("/v1/models/moonshot/kimi-k3", headers=auth)
    assert hidden.status_code == 404 and hidden.get_json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize("requested,canonical", [
    ("qwen/qwen-plus", "qwen/qwen-plus"),
    ("deepseek/deepseek-reasoner", "deepseek/deepseek-v4-flash"),
    ("moonshot/moonshot-v1-8k", "moonshot/kimi-k2.6"),
])
def test_retrieve_by_id_or_alias(api, headers, requested, canonical):
    auth = headers()
    response = api.get(f"/v1/models/{requested}", headers=auth)
    assert response.status_code == 200
    item = response.get_json()
    assert item["id"] == canonical and set(item) == MODEL_FIELDS
    listed = {m["id"]: m for m in api.get("/v1/models", headers=auth).get_json()["data"]}
    assert item == listed[canonical]


@pytest.mark.parametrize("requested", ["gpt-4o", "qwen/qwen-nope", "qwen", "qwen/qwen-plus/extra"])
def test_unknown_model_is_a_404_envelope(api, headers, requested):
    response = api.get(f"/v1/models/{requested}", headers=headers())
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "model_not_found" and error["type"] == "invalid_request_error"
    assert error["param"] == "model" and requested in error["message"]
    assert error["request_id"] == response.headers["X-Request-Id"]


def test_missing_key_never_reaches_the_views(api):
    for path in ("/v1/models", "/v1/models/qwen/qwen-plus"):
        response = api.get(path)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_api_key"


def test_list_is_built_once_per_snapshot_and_config(api, app, headers, monkeypatch):
    built = []
    real = models_api.model_object

    def counting(model, config):
        built.append(model.id)
        return real(model, config)

    monkeypatch.setattr(models_api, "model_object", counting)
    app.extensions.pop(models_api.CACHE_KEY, None)
    auth = headers()
    first = api.get("/v1/models", headers=auth).get_data()
    count = len(built)
    assert count == len(get_snapshot().models)
    assert api.get("/v1/models", headers=auth).get_data() == first
    api.get("/v1/models/qwen/qwen-plus", headers=auth)
    assert len(built) == count
    app.config["PROVIDER_KEYS"] = {"deepseek": None, "qwen": None, "moonshot": "sk-m"}
    api.get("/v1/models", headers=auth)
    assert len(built) == 2 * count
    get_snapshot(force=True)
    api.get("/v1/models", headers=auth)
    assert len(built) == 3 * count
