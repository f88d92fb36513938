"""aider: the top-level keys of .aider.conf.yml and the limits and prices in .aider.model.metadata.json."""
from __future__ import annotations

from .catalog import model_limits, price_of
from .changes import Change, parse_json5_file, read_text
from .json5_reader import json_text
from .layout import Layout
from .yaml_editor import flat_yaml_merge, flat_yaml_read


def aider_metadata(model: dict) -> dict:
    context, output = model_limits(model)
    pricing = model.get("pricing") or {}
    return {"max_input_tokens": context, "max_output_tokens": output, "max_tokens": output,
            "input_cost_per_token": price_of(pricing, "input") / 1_000_000,
            "output_cost_per_token": price_of(pricing, "output") / 1_000_000,
            "litellm_provider": "openai", "mode": "chat",
            "supports_function_calling": "tools" in (model.get("capabilities") or ())}


def plan_aider(layout: Layout, base_url: str, api_key: str, models: list[dict], default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    current = flat_yaml_read(old, "model")
    ours = {"openai/" + m["id"] for m in models}
    kept = current if current and current not in ours else None
    values = {"openai-api-base": base_url.rstrip("/") + "/v1", "openai-api-key": api_key,
              "check-update": False, "analytics-disable": True}
    if kept is None:
        values = {"model": "openai/" + default_model, **values}
    new = flat_yaml_merge(old, values)
    changes = [Change(layout.config, new, secret=True)] if new != old else []
    meta_path = layout.home / ".aider.model.metadata.json"
    meta_old = read_text(meta_path) or ""
    meta, _ = parse_json5_file(meta_path, meta_old)
    meta.update({"openai/" + m["id"]: aider_metadata(m) for m in models})
    meta_new = json_text(meta)
    if meta_new != meta_old:
        changes.append(Change(meta_path, meta_new))
    return changes, kept


def aider_stored_key(layout: Layout) -> str | None:
    key = flat_yaml_read(read_text(layout.config) or "", "openai-api-key")
    return key if isinstance(key, str) and key else None


def aider_default(layout: Layout, text: str) -> str | None:
    model = flat_yaml_read(text, "model")
    return model[len("openai/"):] if isinstance(model, str) and model.startswith("openai/") else None
