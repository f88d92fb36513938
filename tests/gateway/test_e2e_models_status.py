"""GET /v1/models, /v1/models/{id or alias}, /healthz and /status over real HTTP."""
import openai
import pytest
import requests

from .e2e import ledger_invariant, live_server, say  # noqa: F401

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant

PROVIDER_FIELDS = {"name", "configured", "reason", "recent_requests", "success_rate", "latency_ms_p50",
                   "open_circuits", "last_error", "last_error_age_seconds"}


def test_models_list_and_retrieve_by_id_or_alias(client, live_factories, live_server):
    models = {m.id: m for m in client.models.list()}
    assert {"deepseek/deepseek-v4-flash", "qwen/qwen-plus", "moonshot/kimi-k2.6"} <= set(models)
    for model in models.values():
        assert model.object == "model" and model.owned_by == model.id.split("/")[0]
        assert model.model_extra["ready"] is True and model.model_extra["pricing"]["currency"]
    assert client.models.retrieve("qwen/qwen-plus").id == "qwen/qwen-plus"
    assert client.models.retrieve("deepseek/deepseek-reasoner").id == "deepseek/deepseek-v4-flash"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("acme/nothing")
    assert caught.value.code == "model_not_found" and caught.value.request_id

    narrow = live_factories.tenant(allowed_models=["deepseek/deepseek-reasoner"])
    narrow_client = openai.OpenAI(api_key=narrow.plaintext, base_url=live_server.base_url, max_retries=0)
    assert [m.id for m in narrow_client.models.list()] == ["deepseek/deepseek-v4-flash"]
    with pytest.raises(openai.NotFoundError):
        narrow_client.models.retrieve("qwen/qwen-plus")
    keyless = requests.get(live_server.base_url + "/models", timeout=10)
    assert keyless.status_code == 401 and keyless.json()["error"]["code"] == "invalid_api_key"


def test_status_and_healthz_shape(live_server, client):
    client.chat.completions.create(model="deepseek/deepseek-v4-flash", messages=say("hi"))
    assert requests.get(live_server.url + "/healthz", timeout=10).json() == {"status": "ok"}
    response = requests.get(live_server.url + "/status", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    status = response.json()
    assert status["status"] == "ok" and status["version"] and isinstance(status["uptime_seconds"], int)
    assert status["database"]["reachable"] is True and status["database"]["engine"] in ("sqlite", "postgresql")
    assert status["rate_limiter"]["healthy"] is True
    assert set(status["providers"]) == {"deepseek", "qwen", "moonshot"}
    for provider in status["providers"].values():
        assert PROVIDER_FIELDS <= set(provider) and provider["configured"] is True
    deepseek = status["providers"]["deepseek"]
    assert deepseek["recent_requests"] == 1 and deepseek["success_rate"] == 1.0 and deepseek["open_circuits"] == 0
    flash = next(m for m in status["models"] if m["id"] == "deepseek/deepseek-v4-flash")
    assert {field: flash[field] for field in ("id", "ready", "reason", "routes")} == {
        "id": "deepseek/deepseek-v4-flash", "ready": True, "reason": None,
        "routes": ["deepseek/deepseek-flash", "deepseek/deepseek-v4-flash"]}
    assert status["detail"] == "operator" and flash["last_24h"]["requests"] == 1  # a loopback caller, from the log
