"""Translation between OpenAI's chat API and each provider's dialect of it, both ways, plus token estimates.

All three providers speak OpenAI-compatible /chat/completions; what each takes in a request (parameter
names, roles, reasoning_content sent back, tool_choice, response_format) is in dialects.py. Here:
- the completion cap is sent under the name each provider documents, the catalog's default when none;
- catalog upstream_params and fixed temperatures are applied;
- streamed usage arrives on the finish chunk (DeepSeek), on a trailing chunk with no choices (Qwen) or
  inside choices[0].usage (Moonshot); clients get it the OpenAI way, as a last chunk with empty choices,
  and only when they asked for it.
"""
from __future__ import annotations

import copy
import json
import math
import time
import uuid

from ...catalog.snapshot import ModelInfo
from .dialects import (dialect_for, map_legacy_functions, normalize_messages, normalize_response_format,
                       normalize_tool_choice, thinking_disabled)
from .failures import UpstreamFailure, classify_stream_error
from .usage import Usage, normalize_usage

# Set by the gateway itself, never copied from the client.
CONTROLLED_PARAMS = frozenset({"model", "stream", "stream_options"})

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
FINISH_ALIASES = {
    "insufficient_system_resource": "length",   # DeepSeek: generation cut short upstream
    "max_tokens": "length",
    "tool_call": "tool_calls",
    "sensitive": "content_filter",
}

PER_MESSAGE_OVERHEAD = 8
FIXED_OVERHEAD = 16
TOOLS_OVERHEAD = 512
IMAGE_PART_TOKENS = 2000
OTHER_MEDIA_PART_TOKENS = 16000


def _new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def build_upstream_body(provider: str, model: ModelInfo, upstream_model: str, params: dict,
                        stream: bool) -> tuple[dict, list[str]]:
    """The JSON body to POST to the provider, and the client parameters that were not sent as given."""
    dialect = dialect_for(provider)
    params = map_legacy_functions(params)
    body: dict = {}
    dropped: list[str] = []
    for key, value in params.items():
        if key in CONTROLLED_PARAMS or value is None:
            continue
        if key in ("messages", "max_tokens", "max_completion_tokens"):
            body[key] = value
        elif key in model.unsupported_params or key not in dialect.params:
            dropped.append(key)
        else:
            body[key] = value

    caps = [body.pop(k) for k in ("max_tokens", "max_completion_tokens") if k in body]
    caps = [c for c in caps if isinstance(c, int) and not isinstance(c, bool)]
    cap = min(caps) if caps else model.default_max_tokens
    if cap is not None:
        body[dialect.max_tokens_field] = cap

    for key, value in (model.upstream_params or {}).items():
        if key not in body:
            body[key] = copy.deepcopy(value)

    if model.fixed_temperature is not None and "temperature" in body:
        if provider == "moonshot" and thinking_disabled(body):
            # Kimi pins a different temperature with thinking off; its default is the right one.
            del body["temperature"]
            dropped.append("temperature")
        elif body["temperature"] != model.fixed_temperature:
            body["temperature"] = model.fixed_temperature
            dropped.append("temperature")

    # Qwen's hybrid models think only when asked; DeepSeek and Kimi think unless told not to.
    thinking = body.get("enable_thinking") is True if provider == "qwen" else not thinking_disabled(body)
    if isinstance(body.get("messages"), list):
        body["messages"] = normalize_messages(dialect, body["messages"], thinking)
    normalize_tool_choice(dialect, body, thinking, dropped)
    normalize_response_format(dialect, body)

    result = {"model": upstream_model, **body}
    if stream:
        result["stream"] = True
        result["stream_options"] = {"include_usage": True}  # billing needs usage even if the client did not ask
    return result, dropped


def map_finish_reason(reason) -> str | None:
    if not isinstance(reason, str) or not reason:
        return None
    reason = FINISH_ALIASES.get(reason, reason)
    return reason if reason in FINISH_REASONS else "stop"


def _arguments(value) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _tool_calls(calls) -> list[dict]:
    out = []
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else _new_call_id()
        out.append({"id": call_id, "type": "function",
                    "function": {"name": str(function.get("name") or ""),
                                 "arguments": _arguments(function.get("arguments")) or "{}"}})
    return out


def normalize_completion(provider: str, body: dict, public_model: str, request_id: str) -> tuple[dict, Usage | None]:
    """A provider's non-streamed answer as exactly OpenAI's chat.completion, plus its usage."""
    body = body if isinstance(body, dict) else {}
    choices = []
    usage_raw, container = body.get("usage"), body
    for position, choice in enumerate(body.get("choices") or []):
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        content = message.get("content")
        out = {"role": "assistant", "content": content if isinstance(content, str) else None}
        if isinstance(message.get("reasoning_content"), str):
            out["reasoning_content"] = message["reasoning_content"]
        calls = _tool_calls(message.get("tool_calls"))
        if calls:
            out["tool_calls"] = calls
        out["refusal"] = message.get("refusal") if isinstance(message.get("refusal"), str) else None
        index = choice.get("index")
        choices.append({
            "index": index if isinstance(index, int) and not isinstance(index, bool) else position,
            "message": out,
            "logprobs": choice.get("logprobs") if isinstance(choice.get("logprobs"), dict) else None,
            "finish_reason": map_finish_reason(choice.get("finish_reason")) or ("tool_calls" if calls else "stop"),
        })
        if not isinstance(usage_raw, dict) and isinstance(choice.get("usage"), dict):
            usage_raw, container = choice["usage"], choice
    usage = normalize_usage(provider, usage_raw, container)
    created = body.get("created")
    result = {
        "id": body.get("id") if isinstance(body.get("id"), str) and body.get("id") else f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": created if isinstance(created, int) and not isinstance(created, bool) else int(time.time()),
        "model": public_model,
        "choices": choices,
    }
    if usage is not None:
        result["usage"] = usage.to_openai()
    if isinstance(body.get("system_fingerprint"), str) and body["system_fingerprint"]:
        result["system_fingerprint"] = body["system_fingerprint"]
    return result, usage


class _Call:
    __slots__ = ("index", "id", "upstream_id", "named")

    def __init__(self, index: int, upstream_id: str | None):
        self.index = index
        self.upstream_id = upstream_id
        self.id = upstream_id or _new_call_id()
        self.named = False


class StreamTranslator:
    """Upstream chunks in, OpenAI chat.completion.chunk objects out, with usage held back for the end."""

    def __init__(self, provider: str, public_model: str, include_usage: bool):
        self.provider = provider
        self.public_model = public_model
        self.include_usage = include_usage
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.upstream_id: str | None = None
        self.system_fingerprint: str | None = None
        self.created = int(time.time())
        self.content_chars = 0
        self.started = False
        self.failure: UpstreamFailure | None = None   # an error object the provider sent inside the stream
        self._fallback_id = "chatcmpl-" + uuid.uuid4().hex
        self._saw_created = False
        self._calls: dict[tuple[int, object], _Call] = {}   # (choice, upstream index or None) -> call
        self._latest: dict[int, _Call] = {}
        self._next_call: dict[int, int] = {}
        self._finished = False

    @property
    def id(self) -> str:
        return self.upstream_id or self._fallback_id

    def feed(self, chunk: dict) -> list[dict]:
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk and not chunk.get("choices"):
            self.failure = classify_stream_error(self.provider, chunk)
            return []
        if self.upstream_id is None and isinstance(chunk.get("id"), str) and chunk["id"]:
            self.upstream_id = chunk["id"]
        created = chunk.get("created")
        if not self._saw_created and isinstance(created, int) and not isinstance(created, bool):
            self.created, self._saw_created = created, True
        if isinstance(chunk.get("system_fingerprint"), str) and chunk["system_fingerprint"]:
            self.system_fingerprint = chunk["system_fingerprint"]
        self._capture_usage(chunk.get("usage"), chunk)
        out = []
        for position, choice in enumerate(chunk.get("choices") or []):
            if not isinstance(choice, dict):
                continue
            self._capture_usage(choice.get("usage"), choice if "cached_tokens" in choice else chunk)
            translated = self._choice(position, choice)
            if translated is not None:
                out.append(translated)
        if not out:
            return []
        self.started = True
        return [self._envelope(out)]

    def finish(self) -> list[dict]:
        """After upstream [DONE] or end of stream: the usage chunk, if the client asked and usage is known."""
        if self._finished or not self.include_usage or self.usage is None:
            return []
        self._finished = True
        chunk = self._envelope([])
        chunk["usage"] = self.usage.to_openai()
        return [chunk]

    def _capture_usage(self, raw, container) -> None:
        usage = normalize_usage(self.provider, raw, container)
        if usage is not None:
            self.usage = usage

    def _envelope(self, choices: list) -> dict:
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                 "model": self.public_model}
        if self.system_fingerprint:
            chunk["system_fingerprint"] = self.system_fingerprint
        chunk["choices"] = choices
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def _choice(self, position: int, choice: dict) -> dict | None:
        index = choice.get("index")
        index = index if isinstance(index, int) and not isinstance(index, bool) else position
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        out: dict = {}
        if isinstance(delta.get("role"), str) and delta["role"]:
            out["role"] = delta["role"]
        if "content" in delta and (delta["content"] is None or isinstance(delta["content"], str)):
            out["content"] = delta["content"]
            self.content_chars += len(delta["content"] or "")
        reasoning = delta.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            out["reasoning_content"] = reasoning
            self.content_chars += len(reasoning)
        if isinstance(delta.get("refusal"), str):
            out["refusal"] = delta["refusal"]
        calls = [c for c in (self._tool_delta(index, i, call) for i, call in enumerate(delta.get("tool_calls") or []))
                 if c is not None] if isinstance(delta.get("tool_calls"), list) else []
        if calls:
            out["tool_calls"] = calls
        finish = map_finish_reason(choice.get("finish_reason"))
        if finish is not None:
            self.finish_reason = finish
        logprobs = choice.get("logprobs") if isinstance(choice.get("logprobs"), dict) else None
        if finish is None and logprobs is None and all(v in (None, "") for v in out.values()):
            return None
        return {"index": index, "delta": out, "logprobs": logprobs, "finish_reason": finish}

    def _tool_delta(self, choice_index: int, position: int, call) -> dict | None:
        if not isinstance(call, dict):
            return None
        upstream_index = call.get("index") if isinstance(call.get("index"), int) else None
        call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        name = function.get("name") if isinstance(function.get("name"), str) and function.get("name") else None
        arguments = _arguments(function.get("arguments"))
        key = (choice_index, upstream_index)
        state = self._calls.get(key)
        if state is None and upstream_index is None and call_id is None:
            state = self._latest.get(choice_index)
        # A different upstream id under the same index (or with no index at all) starts the next call.
        if state is None or (call_id and state.upstream_id and call_id != state.upstream_id):
            number = self._next_call.get(choice_index, 0)
            self._next_call[choice_index] = number + 1
            state = self._calls[key] = self._latest[choice_index] = _Call(number, call_id)
            state.named = bool(name)
            self.content_chars += len(arguments) + len(name or "")
            fn = {"name": name, "arguments": arguments} if name else {"arguments": arguments}
            return {"index": state.index, "id": state.id, "type": "function", "function": fn}
        self._latest[choice_index] = state
        fn = {}
        if name and not state.named:
            fn["name"] = name
            state.named = True
            self.content_chars += len(name)
        if arguments:
            fn["arguments"] = arguments
            self.content_chars += len(arguments)
        return {"index": state.index, "function": fn} if fn else None


def estimate_completion_tokens(chars: int) -> int:
    """Completion tokens for `chars` characters delivered when the provider never reported usage.

    Rule: ceil(chars / 2). DeepSeek publishes about 0.3 tokens per English character and 0.6 per Chinese
    character, so one token per two characters sits between the two for mixed text. Never 0 when chars > 0.
    """
    return math.ceil(chars / 2) if chars > 0 else 0


def _utf8(value) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if value is None:
        return 0
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def content_size(content, measure=_utf8):
    """A message's content measured part by part: text and other values by `measure`, media at a flat count.

    The hold's byte bound and the count_tokens estimate differ only in `measure`."""
    if not isinstance(content, list):
        return measure(content)
    total = 0
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            total += measure(part.get("text"))
        elif kind in ("image_url", "image"):
            total += IMAGE_PART_TOKENS
        elif kind in ("video_url", "video", "input_audio", "audio", "file"):
            total += OTHER_MEDIA_PART_TOKENS
        else:
            total += measure(part)
    return total


def estimate_prompt_tokens(messages: list, tools: list | None) -> int:
    """A conservative upper bound on prompt tokens, for the credit hold taken before calling upstream.

    Byte-level BPE tokenizers (DeepSeek, Qwen, Kimi) never emit more tokens than the UTF-8 bytes they
    encode, because every token covers at least one byte; so the byte length of every text field (content
    and text parts, names, tool-call ids and arguments, reasoning passed back, tool definitions as JSON)
    bounds the tokens for that text. On top: 8 tokens per message for the chat template's role markers,
    16 fixed, and 512 when tools are present for the template's tool-use preamble. Media are not bytes of
    text: an image part counts 2,000 tokens and a video, audio or file part 16,000 (stated estimates,
    not bounds).
    """
    total = FIXED_OVERHEAD
    for message in messages or []:
        total += PER_MESSAGE_OVERHEAD
        if not isinstance(message, dict):
            total += _utf8(message)
            continue
        for key, value in message.items():
            total += content_size(value) if key == "content" else _utf8(value)
    if tools:
        total += TOOLS_OVERHEAD + _utf8(tools)
    return total
