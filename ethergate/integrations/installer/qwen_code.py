"""Qwen Code: the model providers in settings.json and the key in its .env."""
from __future__ import annotations

from .catalog import model_limits
from .changes import Change, child_object, parse_json5_file, read_text
from .dotenv import dotenv_change
from .json5_reader import json_text
from .layout import Layout
from .targets import KEY_ENV, PROVIDER_ID


def qwen_code_model(base_url: str, model: dict) -> dict:
    context, output = model_limits(model)
    return {"id": model["id"], "name": f"{model.get('name') or model['id']} (EtherGate)",
            "baseUrl": base_url.rstrip("/") + "/v1", "envKey": KEY_ENV,
            "generationConfig": {"contextWindowSize": context, "samplingParams": {"max_tokens": min(output, 32000)}}}


def plan_qwen_code(layout: Layout, base_url: str, api_key: str, models: list[dict], default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    config, comments = parse_json5_file(layout.config, old)
    providers = child_object(config, "modelProviders", layout.config, "modelProviders")
    providers[PROVIDER_ID] = [qwen_code_model(base_url, m) for m in models]
    child_object(config, "providerProtocol", layout.config, "providerProtocol")[PROVIDER_ID] = "openai"
    model = child_object(config, "model", layout.config, "model")
    auth = child_object(child_object(config, "security", layout.config, "security"), "auth", layout.config, "security.auth")
    kept = None
    current = model.get("name")
    if not current or current in {m["id"] for m in models}:
        model["name"] = default_model
        auth["selectedType"] = "openai"
    else:
        kept = current
    # Usage statistics and managed memory phone home; EtherGate's config turns them off.
    child_object(config, "privacy", layout.config, "privacy")["usageStatisticsEnabled"] = False
    child_object(config, "memory", layout.config, "memory")["enableManagedAutoMemory"] = False
    new = json_text(config)
    changes = [Change(layout.config, new, comments_lost=comments)] if new != old else []
    changes += dotenv_change(layout, api_key)
    return changes, kept


def qwen_code_default(layout: Layout, text: str) -> str | None:
    config, _ = parse_json5_file(layout.config, text)
    model = (config.get("model") or {}).get("name") if isinstance(config.get("model"), dict) else None
    ours = {m.get("id") for m in (config.get("modelProviders") or {}).get(PROVIDER_ID) or [] if isinstance(m, dict)}
    return model if model in ours else None
