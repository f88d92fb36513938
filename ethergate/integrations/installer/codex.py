"""Codex: a model provider in config.toml speaking EtherGate's Responses surface, and the key in its .env."""
from __future__ import annotations

import json
import re
from pathlib import Path

from .catalog import context_tokens
from .changes import Change, read_text
from .dotenv import dotenv_change
from .layout import Layout
from .messages import Abort
from .targets import EXIT_CONFIG, KEY_ENV, PROVIDER_ID


def toml_table(path: Path, text: str) -> dict:
    try:
        import tomllib
    except ImportError:  # Python < 3.11: the edit stays line-based and is not re-read
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail=error) from None


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def codex_merge(text: str, top: dict, provider: dict) -> str:
    """`text` with the top-level keys in `top` set, [model_providers.ethergate] replaced and analytics off.

    Line edits, so the user's comments and layout survive; other tables are left as they are."""
    lines = text.splitlines()
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in lines:
        header = _TOML_HEADER.match(line)
        if header:
            sections.append((header.group(1).replace(" ", ""), [line]))
        else:
            sections[-1][1].append(line)
    ours = f"model_providers.{PROVIDER_ID}"
    out: list[str] = []
    analytics = False
    for name, body in sections:
        if name == ours:
            continue
        if name is None:
            kept = [line for line in body if not ((m := _TOML_KEY.match(line)) and m.group(1) in top)]
            while kept and not kept[-1].strip():
                kept.pop()
            out.extend(kept + [f"{key} = {value}" for key, value in top.items()] + [""])
            continue
        if name == "analytics":
            analytics = True
            body = [body[0], "enabled = false"] + [line for line in body[1:]
                                                    if not ((m := _TOML_KEY.match(line)) and m.group(1) == "enabled")]
        out.extend(body)
    while out and not out[-1].strip():
        out.pop()
    if not analytics:
        out += ["", "[analytics]", "enabled = false"]
    out += ["", f"[{ours}]"] + [f"{key} = {value}" for key, value in provider.items()]
    return "\n".join(out).lstrip("\n") + "\n"


def plan_codex(layout: Layout, base_url: str, api_key: str, models: list[dict],
               default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    toml_table(layout.config, old)
    top = {"model_provider": toml_string(PROVIDER_ID), "model": toml_string(default_model),
           "model_context_window": str(context_tokens(models, default_model))}
    provider = {"name": toml_string("EtherGate"), "base_url": toml_string(base_url.rstrip("/") + "/v1"),
                "env_key": toml_string(KEY_ENV), "wire_api": toml_string("responses")}
    new = codex_merge(old, top, provider)
    merged = toml_table(layout.config, new)
    if merged and (merged.get("model_provider") != PROVIDER_ID or merged.get("model") != default_model
                   or (merged.get("model_providers") or {}).get(PROVIDER_ID, {}).get("env_key") != KEY_ENV
                   or (merged.get("analytics") or {}).get("enabled") is not False):
        raise Abort(EXIT_CONFIG, "parse_error", path=layout.config, detail="the edit could not be verified")
    changes = [Change(layout.config, new)] if new != old else []
    changes += dotenv_change(layout, api_key)
    return changes, None


def codex_default(layout: Layout, text: str) -> str | None:
    table = toml_table(layout.config, text)
    return table.get("model") if table.get("model_provider") == PROVIDER_ID else None
