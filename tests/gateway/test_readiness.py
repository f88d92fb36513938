"""A model is ready when some route leads to a provider with an API key; the reason never shows the key."""
import pytest

from ethergate.catalog.readiness import model_readiness, provider_readiness
from ethergate.catalog.snapshot import ModelInfo, RouteInfo

NO_KEYS = {"PROVIDER_KEYS": {"deepseek": None, "qwen": None, "moonshot": None}}


def config(**keys) -> dict:
    return {"PROVIDER_KEYS": {**NO_KEYS["PROVIDER_KEYS"], **keys}}


def model(*providers: str) -> ModelInfo:
    return ModelInfo(
        id="qwen/qwen-plus", name="Qwen Plus", description=None, context_window=1000, max_output_tokens=100,
        default_max_tokens=None, capabilities=frozenset(), fixed_temperature=None, max_n=None,
        unsupported_params=frozenset(), upstream_params=None,
        routes=tuple(RouteInfo(p, f"{p}-upstream-{i}", i + 1) for i, p in enumerate(providers)),
        prices=(), aliases=(), released=None)


@pytest.mark.parametrize("keys,expected", [
    ({"qwen": "sk-live-secret"}, (True, None)),
    ({}, (False, "provider qwen is not configured: ETHERGATE_QWEN_API_KEY is not set")),
    ({"qwen": ""}, (False, "provider qwen is not configured: ETHERGATE_QWEN_API_KEY is not set")),
    ({"deepseek": "sk-other"}, (False, "provider qwen is not configured: ETHERGATE_QWEN_API_KEY is not set")),
])
def test_provider_readiness(keys, expected):
    assert provider_readiness("qwen", config(**keys)) == expected


def test_unknown_provider_is_not_ready_and_says_why():
    ready, reason = provider_readiness("openrouter", config(qwen="sk"))
    assert not ready and "openrouter" in reason and "not supported" in reason


def test_missing_provider_keys_setting_is_not_ready():
    assert provider_readiness("qwen", {})[0] is False


def test_model_is_ready_when_any_route_is_configured():
    two_providers = model("qwen", "deepseek")
    assert model_readiness(two_providers, config(deepseek="sk-d")) == (True, None)
    assert model_readiness(two_providers, config(qwen="sk-q")) == (True, None)


def test_model_not_ready_names_every_provider_once():
    ready, reason = model_readiness(model("qwen", "qwen", "moonshot"), config(deepseek="sk-d"))
    assert not ready
    assert reason == ("provider qwen is not configured: ETHERGATE_QWEN_API_KEY is not set; "
                      "provider moonshot is not configured: ETHERGATE_MOONSHOT_API_KEY is not set")


def test_model_without_routes_is_not_ready():
    assert model_readiness(model(), config(qwen="sk")) == (False, "model has no active route")


def test_reasons_never_contain_key_values():
    secret = "sk-very-secret-value"
    for keys in ({"qwen": secret}, {"deepseek": secret}, {"moonshot": secret}):
        for provider in ("qwen", "deepseek", "moonshot", "other"):
            _, reason = provider_readiness(provider, config(**keys))
            assert secret not in (reason or "")
        _, reason = model_readiness(model("qwen", "moonshot"), config(**keys))
        assert secret not in (reason or "")


def test_shipped_catalog_readiness_follows_app_config(app):
    from ethergate.catalog.snapshot import get_snapshot
    snapshot = get_snapshot(force=True)
    keys = {"deepseek": "sk-d", "qwen": None, "moonshot": None}
    for item in snapshot.models.values():
        ready, reason = model_readiness(item, {"PROVIDER_KEYS": keys})
        assert ready is (item.provider == "deepseek"), item.id
        assert (reason is None) is ready
