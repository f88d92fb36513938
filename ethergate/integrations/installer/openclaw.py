"""OpenClaw and QClaw: the provider in the JSON5 config, the default model and the agents' model caches."""
from __future__ import annotations

from .catalog import price_of
from .changes import Change, child_object, parse_json5_file, read_text
from .json5_reader import json_text
from .layout import Layout
from .messages import Abort
from .targets import EXIT_CONFIG, PROVIDER_ID


def openclaw_model(model: dict) -> dict:
    pricing = model.get("pricing") or {}
    capabilities = set(model.get("capabilities") or ())
    cached = pricing.get("cached_input")
    return {
        "id": model["id"],
        "name": model.get("name") or model["id"],
        "reasoning": "reasoning" in capabilities,
        "input": ["text", "image"] if "vision" in capabilities else ["text"],
        # Prices are per million tokens in the instance's currency; a cache write costs what
        # plain input does upstream, so that is what it is priced at.
        "cost": {"input": price_of(pricing, "input"), "output": price_of(pricing, "output"),
                 "cacheRead": price_of(pricing, "cached_input" if cached else "input"),
                 "cacheWrite": price_of(pricing, "input")},
        "contextWindow": int(model.get("context_length") or 0) or 128000,
        "maxTokens": int(model.get("max_output_tokens") or 0) or 8192,
    }


def openclaw_provider(base_url: str, api_key: str, models: list[dict]) -> dict:
    return {"baseUrl": base_url.rstrip("/") + "/v1", "apiKey": api_key, "api": "openai-completions",
            "models": [openclaw_model(m) for m in models]}


def plan_openclaw(layout: Layout, base_url: str, api_key: str, models: list[dict], default_model: str) -> tuple[list[Change], str | None]:
    provider = openclaw_provider(base_url, api_key, models)
    old = read_text(layout.config) or ""
    config, comments = parse_json5_file(layout.config, old)
    if "$include" in config:
        raise Abort(EXIT_CONFIG, "include", path=layout.config, where="the top level")
    providers = child_object(child_object(config, "models", layout.config, "models"), "providers", layout.config, "models.providers")
    providers[PROVIDER_ID] = provider

    defaults = child_object(child_object(config, "agents", layout.config, "agents"), "defaults", layout.config, "agents.defaults")
    prefix = PROVIDER_ID + "/"
    wanted = prefix + default_model
    model = defaults.get("model")
    kept = None
    if model is None or model == "" or model == {}:
        defaults["model"] = {"primary": wanted}
    elif isinstance(model, str):
        if model.startswith(prefix):
            defaults["model"] = wanted
        else:
            kept = model
    elif isinstance(model, dict):
        primary = model.get("primary")
        if not primary or (isinstance(primary, str) and primary.startswith(prefix)):
            model["primary"] = wanted
        else:
            kept = primary
    allow = defaults.get("models")
    if isinstance(allow, dict):
        ours = {prefix + m["id"] for m in models}
        for name in [n for n in allow if n.startswith(prefix) and n not in ours and n != prefix + "*"]:
            del allow[name]
        for name in sorted(ours - set(allow)):
            allow[name] = {}

    new = json_text(config)
    changes = [Change(layout.config, new, secret=True, comments_lost=comments)] if new != old else []
    changes.extend(_openclaw_caches(layout, provider))
    return changes, kept


def _openclaw_caches(layout: Layout, provider: dict) -> list[Change]:
    changes = []
    agents = layout.home / "agents"
    for cache in sorted(agents.glob("*/agent/models.json")) if agents.is_dir() else []:
        old = read_text(cache) or ""
        data, _ = parse_json5_file(cache, old)
        providers = data.get("providers")
        if not isinstance(providers, dict) or PROVIDER_ID not in providers:
            continue
        providers[PROVIDER_ID] = provider
        new = json_text(data)
        if new != old:
            changes.append(Change(cache, new, secret=True))
    return changes


def openclaw_stored_key(layout: Layout) -> str | None:
    text = read_text(layout.config)
    if not text:
        return None
    config, _ = parse_json5_file(layout.config, text)
    provider = ((config.get("models") or {}).get("providers") or {}).get(PROVIDER_ID)
    key = provider.get("apiKey") if isinstance(provider, dict) else None
    return key if isinstance(key, str) and key and not key.startswith("${") else None


def openclaw_default(layout: Layout, text: str) -> str | None:
    config, _ = parse_json5_file(layout.config, text)
    model = ((config.get("agents") or {}).get("defaults") or {}).get("model")
    primary = model.get("primary") if isinstance(model, dict) else model
    prefix = PROVIDER_ID + "/"
    return primary[len(prefix):] if isinstance(primary, str) and primary.startswith(prefix) else None
