"""Token usage as each provider reports it, normalized to OpenAI's shape.

Where the providers put things (see tests/fakes/formats.py and tests/gateway/test_usage.py):
- DeepSeek: prompt_cache_hit_tokens + prompt_cache_miss_tokens = prompt_tokens (hit = cached);
  newer answers also carry prompt_tokens_details.cached_tokens; completion_tokens_details.reasoning_tokens.
- Qwen (DashScope compatible mode): prompt_tokens_details.cached_tokens (plus cache-creation extras we
  ignore); completion_tokens_details.reasoning_tokens.
- Moonshot: cached_tokens at the top level of usage (newer answers add prompt_tokens_details too).

In every shape cached tokens are a part of prompt_tokens and reasoning tokens a part of
completion_tokens, so neither is ever added or subtracted again here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def uncached_prompt_tokens(self) -> int:
        return self.prompt_tokens - self.cached_tokens

    def to_openai(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


def _count(value) -> int | None:
    """A token count from JSON, or None when absent or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return max(int(value), 0)
    if isinstance(value, str):
        try:
            return max(int(float(value)), 0)
        except ValueError:
            return None
    return None


def _detail(raw: dict, group: str, name: str) -> int | None:
    details = raw.get(group)
    return _count(details.get(name)) if isinstance(details, dict) else None


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def normalize_usage(provider: str, raw: dict | None, container: dict | None = None) -> Usage | None:
    """The usage a provider reported, or None when it reported none.

    `container` is the object around `raw` (the chunk, or the choice holding it) for providers that put
    cached_tokens beside usage rather than inside it. OpenAI's own fields win over provider-specific ones.
    """
    if not isinstance(raw, dict):
        return None
    hit = _count(raw.get("prompt_cache_hit_tokens"))
    miss = _count(raw.get("prompt_cache_miss_tokens"))
    prompt = _count(raw.get("prompt_tokens"))
    if prompt is None and (hit is not None or miss is not None):
        prompt = (hit or 0) + (miss or 0)
    completion = _count(raw.get("completion_tokens"))
    total = _count(raw.get("total_tokens"))
    if completion is None and total is not None and prompt is not None:
        completion = max(total - prompt, 0)
    if prompt is None and total is not None and completion is not None:
        prompt = max(total - completion, 0)
    if prompt is None and completion is None:
        return None
    prompt, completion = prompt or 0, completion or 0

    beside = _count(container.get("cached_tokens")) if isinstance(container, dict) else None
    cached = _first(_detail(raw, "prompt_tokens_details", "cached_tokens"), hit,
                    _count(raw.get("cached_tokens")), beside) or 0
    reasoning = _first(_detail(raw, "completion_tokens_details", "reasoning_tokens"),
                       _count(raw.get("reasoning_tokens"))) or 0
    return Usage(prompt, completion, min(cached, prompt), min(reasoning, completion))
