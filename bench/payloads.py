"""What the benchmark sends and what its upstreams answer, in one place so every run measures the same bytes."""
from __future__ import annotations

import json
import resource

PUBLIC_MODEL = "deepseek/deepseek-v4-flash"
UPSTREAM_MODEL = "deepseek-flash"
PROVIDER = "deepseek"
PROVIDER_KEY = "sk-bench-deepseek"
# Small enough that 2,000 concurrent holds stay far below the granted credits.
MAX_TOKENS = 256


def completion_json() -> str:
    """A DeepSeek chat.completion as the real API returns it (bare UUID id, cache-hit/miss usage fields).

    Free of `'` and `$` so that nginx can return it verbatim from a single-quoted string.
    """
    body = {
        "id": "5d3f8e0a-9c1b-4f6e-8a2d-7b4c1e9f0a36",
        "object": "chat.completion",
        "created": 1767225600,
        "model": UPSTREAM_MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant",
                        "content": "Paris is the capital of France. It sits on the Seine in the north of the "
                                   "country and has been the seat of government for most of the last millennium."},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 19, "completion_tokens": 36, "total_tokens": 55,
                  "prompt_tokens_details": {"cached_tokens": 0},
                  "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 19},
        "system_fingerprint": "fp_8802369eaa_prod0820_fp8_kvcache",
    }
    return json.dumps(body, separators=(",", ":"))


def chat_request(model: str, stream: bool = False, shape: tuple[int, int] | None = None,
                 include_usage: bool = False) -> bytes:
    """A typical small chat request; `shape` (chunks, gap_ms) tells the bench SSE upstream how to stream."""
    text = "What is the capital of France? Answer in two sentences."
    if shape is not None:
        text = f"bench:chunks={shape[0]},gap_ms={shape[1]} " + text
    body = {"model": model,
            "messages": [{"role": "system", "content": "You are a concise assistant."},
                         {"role": "user", "content": text}],
            "max_tokens": MAX_TOKENS, "temperature": 0.7}
    if stream:
        body["stream"] = True
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body, separators=(",", ":")).encode()


def limit_open_files() -> int:
    """Raise this process's open-file limit to the hard limit (children inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
