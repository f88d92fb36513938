"""A surface's thinking setting and effort level as the switches each provider understands.

DeepSeek and Moonshot take `thinking: {"type": "enabled" | "disabled"}` and no budget; Qwen takes
`enable_thinking` and an optional `thinking_budget`. The provider is the prefix of the EtherGate model ID
("qwen/qwen-plus"), which is also how ModelInfo.provider names it.
"""
from __future__ import annotations

SWITCHED_PROVIDERS = ("deepseek", "moonshot", "qwen")


def provider_of(model: str) -> str | None:
    prefix, slash, _ = model.partition("/")
    return prefix if slash and prefix in SWITCHED_PROVIDERS else None


def thinking_switches(provider: str | None, enabled: bool, budget: int | None = None) -> dict:
    """The request fields that turn thinking on or off on `provider`; {} when it has no known switch."""
    if provider in ("deepseek", "moonshot"):
        return {"thinking": {"type": "enabled" if enabled else "disabled"}}
    if provider == "qwen":
        switches: dict = {"enable_thinking": enabled}
        if enabled and budget is not None:
            switches["thinking_budget"] = budget
        return switches
    return {}


def reasoning_effort(provider: str | None, effort: str) -> str:
    """The reasoning_effort to send for a client's effort level.

    DeepSeek documents every level from "minimal" to "max" and maps them itself (it recommends "max" for
    agents); elsewhere the three levels chat completions defines are sent, the nearest one for the rest.
    """
    if provider == "deepseek":
        return effort
    return {"minimal": "low", "xhigh": "high", "max": "high"}.get(effort, effort)
