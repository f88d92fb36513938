"""opencode: the provider, model and small_model in opencode.json."""
from __future__ import annotations

from .catalog import model_limits
from .changes import Change, child_object, parse_json5_file, read_text
from .json5_reader import json_text
from .layout import Layout
from .targets import PROVIDER_ID, SMALL_MODELS


def opencode_model(model: dict) -> dict:
    context, output = model_limits(model)
    capabilities = set(model.get("capabilities") or ())
    return {"name": model.get("name") or model["id"], "limit": {"context": context, "output": output},
            "reasoning": "reasoning" in capabilities, "tool_call": "tools" in capabilities,
            "attachment": "vision" in capabilities}


def plan_opencode(layout: Layout, base_url: str, api_key: str, models: list[dict], default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    config, comments = parse_json5_file(layout.config, old)
    config.setdefault("$schema", "https://opencode.ai/config.json")
    providers = child_object(config, "provider", layout.config, "provider")
    providers[PROVIDER_ID] = {"npm": "@ai-sdk/openai-compatible", "name": "EtherGate",
                              "options": {"baseURL": base_url.rstrip("/") + "/v1", "apiKey": api_key},
                              "models": {m["id"]: opencode_model(m) for m in models}}
    prefix, ids = PROVIDER_ID + "/", [m["id"] for m in models]
    kept = None
    current = config.get("model")
    if not current or (isinstance(current, str) and current.startswith(prefix)):
        config["model"] = prefix + default_model
    else:
        kept = current
    small = config.get("small_model")
    if not small or (isinstance(small, str) and small.startswith(prefix)):
        config["small_model"] = prefix + next((m for m in SMALL_MODELS if m in ids), default_model)
    config["autoupdate"] = False
    config["share"] = "disabled"
    new = json_text(config)
    return ([Change(layout.config, new, secret=True, comments_lost=comments)] if new != old else []), kept


def opencode_stored_key(layout: Layout) -> str | None:
    text = read_text(layout.config)
    config, _ = parse_json5_file(layout.config, text) if text else ({}, False)
    provider = (config.get("provider") or {}).get(PROVIDER_ID) if isinstance(config.get("provider"), dict) else None
    key = (provider.get("options") or {}).get("apiKey") if isinstance(provider, dict) else None
    return key if isinstance(key, str) and key and not key.startswith("{") else None


def opencode_default(layout: Layout, text: str) -> str | None:
    config, _ = parse_json5_file(layout.config, text)
    model, prefix = config.get("model"), PROVIDER_ID + "/"
    return model[len(prefix):] if isinstance(model, str) and model.startswith(prefix) else None
