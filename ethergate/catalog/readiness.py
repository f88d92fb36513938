"""Whether a model can be served now: some route must lead to a provider whose API key is configured."""
from __future__ import annotations

from .snapshot import ModelInfo


def provider_key_setting(provider_id: str) -> str:
    """The environment variable settings.py reads the provider's key from."""
    return f"ETHERGATE_{provider_id.upper()}_API_KEY"


def provider_readiness(provider_id: str, config) -> tuple[bool, str | None]:
    keys = config.get("PROVIDER_KEYS") or {}
    if provider_id not in keys:
        return False, f"provider {provider_id} is not supported by this gateway (no API key setting)"
    if not keys[provider_id]:
        return False, f"provider {provider_id} is not configured: {provider_key_setting(provider_id)} is not set"
    return True, None


def model_readiness(model: ModelInfo, config) -> tuple[bool, str | None]:
    if not model.routes:
        return False, "model has no active route"
    reasons: list[str] = []
    for provider in dict.fromkeys(route.provider for route in model.routes):
        ready, reason = provider_readiness(provider, config)
        if ready:
            return True, None
        reasons.append(reason)
    return False, "; ".join(reasons)
