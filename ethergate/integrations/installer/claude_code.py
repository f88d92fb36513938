"""Claude Code: the env block of settings.json and the onboarding flag, so it speaks to EtherGate's Messages surface."""
from __future__ import annotations

from .catalog import context_tokens
from .changes import Change, child_object, parse_json5_file, read_text
from .json5_reader import json_text
from .layout import Layout
from .targets import SMALL_MODELS


def plan_claude_code(layout: Layout, base_url: str, api_key: str, models: list[dict],
                     default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    settings, comments = parse_json5_file(layout.config, old)
    env = child_object(settings, "env", layout.config, "env")
    ids = [m["id"] for m in models]
    env.update({
        "ANTHROPIC_BASE_URL": base_url.rstrip("/"),
        "ANTHROPIC_AUTH_TOKEN": api_key,
        "ANTHROPIC_MODEL": default_model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": next((m for m in SMALL_MODELS if m in ids), default_model),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_CONTEXT_TOKENS": str(context_tokens(models, default_model)),
    })
    # An Anthropic API key here would be sent instead of the EtherGate key.
    env.pop("ANTHROPIC_API_KEY", None)
    new = json_text(settings)
    changes = [Change(layout.config, new, secret=True, comments_lost=comments)] if new != old else []
    state_old = read_text(layout.onboarding) or ""
    state, _ = parse_json5_file(layout.onboarding, state_old)
    if state.get("hasCompletedOnboarding") is not True:
        state["hasCompletedOnboarding"] = True  # else the first start asks for an Anthropic login
        changes.append(Change(layout.onboarding, json_text(state)))
    return changes, None


def claude_code_stored_key(layout: Layout) -> str | None:
    text = read_text(layout.config)
    settings = parse_json5_file(layout.config, text)[0] if text else {}
    key = (settings.get("env") or {}).get("ANTHROPIC_AUTH_TOKEN") if isinstance(settings.get("env"), dict) else None
    return key if isinstance(key, str) and key else None


def claude_code_default(layout: Layout, text: str) -> str | None:
    settings = parse_json5_file(layout.config, text)[0]
    env = settings.get("env") if isinstance(settings.get("env"), dict) else {}
    model = env.get("ANTHROPIC_MODEL")
    return model if isinstance(model, str) and env.get("ANTHROPIC_AUTH_TOKEN") else None
