"""What each provider's /chat/completions takes, and how an OpenAI request is reshaped to fit it.

The README's "Request normalisation" table is this module in prose; change both together. Every
OpenAI field is mapped to the provider's equivalent, dropped (and named in X-Dropped-Params), or
refused with `param` set, so the provider never answers 400 to something the gateway could fix.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import invalid_request

REASONING_PLACEHOLDER = " "


@dataclass(frozen=True)
class Dialect:
    params: frozenset[str]          # request fields the provider documents, besides model/messages/stream
    max_tokens_field: str           # the name its docs give the completion cap
    system_anywhere: bool           # whether a system message may follow other messages
    reasoning_echo: str             # "required" on tool-call turns in thinking mode, or "stripped"
    json_schema: bool               # whether response_format json_schema is taken (else json_object only)
    forced_tools_with_thinking: bool  # whether tool_choice "required"/named works while thinking


COMMON = frozenset({"temperature", "top_p", "stop", "tools", "tool_choice", "response_format", "max_tokens"})
DIALECTS = {
    # api-docs.deepseek.com: Create Chat Completion; Thinking Mode (reasoning_content must come back on
    # tool-call turns, 400 otherwise; reasoning_effort low/high/max).
    "deepseek": Dialect(COMMON | {"presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "thinking",
                                  "reasoning_effort"},
                        "max_tokens", True, "required", False, True),
    # help.aliyun.com/zh/model-studio OpenAI-compatible chat: system first only, enable_thinking /
    # thinking_budget, parallel_tool_calls, seed, n; reasoning_content is an output field only.
    # reasoning_effort is Qwen3.8's; the catalog marks it unsupported on older models.
    "qwen": Dialect(COMMON | {"presence_penalty", "seed", "n", "logprobs", "top_logprobs", "parallel_tool_calls",
                              "enable_thinking", "thinking_budget", "top_k", "reasoning_effort"},
                    "max_tokens", False, "stripped", False, True),
    # platform.kimi.com chat API: max_completion_tokens (max_tokens deprecated), thinking; thinking models
    # need reasoning_content kept on tool-call turns and refuse a forced tool_choice while thinking.
    "moonshot": Dialect(COMMON - {"max_tokens"} | {"presence_penalty", "frequency_penalty", "n", "seed",
                                                   "thinking", "max_completion_tokens"},
                        "max_completion_tokens", True, "required", False, False),
}
FALLBACK = Dialect(COMMON | {"presence_penalty", "frequency_penalty", "seed", "n"}, "max_tokens", True,
                   "stripped", False, True)
# Fields OpenAI puts on messages it returned, which clients echo back and no provider here takes.
OUTPUT_ONLY_FIELDS = frozenset({"refusal", "audio", "annotations"})
TAKEN_PARTS = frozenset({"text", "image_url", "video_url", "video"})


def dialect_for(provider: str) -> Dialect:
    return DIALECTS.get(provider, FALLBACK)


def thinking_disabled(body: dict) -> bool:
    thinking = body.get("thinking")
    return (isinstance(thinking, dict) and thinking.get("type") == "disabled") or body.get("enable_thinking") is False


def map_legacy_functions(params: dict) -> dict:
    """OpenAI's deprecated functions/function_call as tools/tool_choice, which every provider takes."""
    if params.get("functions") is None and params.get("function_call") is None:
        return params
    params = dict(params)
    functions, choice = params.pop("functions", None), params.pop("function_call", None)
    if functions and params.get("tools") is None:
        params["tools"] = [{"type": "function", "function": f} for f in functions]
    if choice is not None and params.get("tool_choice") is None:
        params["tool_choice"] = choice if isinstance(choice, str) else {"type": "function", "function": choice}
    return params


def normalize_messages(dialect: Dialect, messages: list, thinking: bool) -> list:
    """The conversation as this provider takes it; the client's list is never modified."""
    out: list = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            out.append(message)
            continue
        message = {k: v for k, v in message.items() if k not in OUTPUT_ONLY_FIELDS}
        if message.get("role") == "developer":
            message["role"] = "system"  # no provider here has a developer role; it means system
        if "content" in message:
            message["content"] = _content(message["content"], f"messages[{index}].content")
        if message.get("role") == "assistant":
            _reasoning(dialect, message, thinking)
        elif "reasoning_content" in message:
            del message["reasoning_content"]
        out.append(message)
    return out if dialect.system_anywhere else _system_first(out)


def _reasoning(dialect: Dialect, message: dict, thinking: bool) -> None:
    if dialect.reasoning_echo != "required" or not thinking:
        message.pop("reasoning_content", None)
    elif message.get("tool_calls") and not message.get("reasoning_content"):
        # The client did not keep the turn's reasoning; the provider only checks that the field is there.
        message["reasoning_content"] = REASONING_PLACEHOLDER


def _content(content, where: str):
    """Text-only part arrays become one string (every provider takes that); parts no provider takes are refused."""
    if not isinstance(content, list):
        return content
    kinds = {part.get("type") for part in content if isinstance(part, dict)}
    if kinds <= {"text", "refusal"}:
        return "".join(part.get("text") or part.get("refusal") or "" for part in content if isinstance(part, dict))
    for position, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in TAKEN_PARTS:
            raise invalid_request(f"Invalid '{where}[{position}].type': no model behind EtherGate accepts "
                                  f"{kind!r} parts; send text, image_url or video_url parts.",
                                  f"{where}[{position}].type")
    return content


def _system_first(messages: list) -> list:
    """Later system messages folded into the leading one, for providers that take a system message only first."""
    lead = [m for m in messages[:1] if isinstance(m, dict) and m.get("role") == "system"]
    later = [m for m in messages[len(lead):] if isinstance(m, dict) and m.get("role") == "system"]
    if not later:
        return messages
    texts = [m.get("content") for m in lead + later]
    if not all(isinstance(t, str) for t in texts):
        return messages
    merged = {"role": "system", "content": "\n\n".join(t for t in texts if t)}
    return [merged] + [m for m in messages[len(lead):] if not (isinstance(m, dict) and m.get("role") == "system")]


def normalize_tool_choice(dialect: Dialect, body: dict, thinking: bool, dropped: list[str]) -> None:
    choice = body.get("tool_choice")
    forced = choice == "required" or isinstance(choice, dict)
    if forced and thinking and not dialect.forced_tools_with_thinking:
        body["tool_choice"] = "auto"  # refused upstream while thinking; auto still lets the model call it
        dropped.append("tool_choice")


def normalize_response_format(dialect: Dialect, body: dict) -> None:
    """json_schema where only json_object is taken: JSON mode plus the schema as an instruction."""
    response_format = body.get("response_format")
    if dialect.json_schema or not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return
    spec = response_format.get("json_schema") or {}
    schema = json.dumps(spec.get("schema") or {}, ensure_ascii=False, separators=(",", ":"))
    body["response_format"] = {"type": "json_object"}
    instruction = {"role": "system", "content": f"Answer with a JSON object that matches this JSON Schema "
                                                 f"(named {spec.get('name', 'response')}): {schema}"}
    messages = body.get("messages") or []
    if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system" \
            and isinstance(messages[0].get("content"), str):
        body["messages"] = [{**messages[0], "content": messages[0]["content"] + "\n\n" + instruction["content"]},
                            *messages[1:]]
    else:
        body["messages"] = [instruction, *messages]
