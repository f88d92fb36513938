"""A chat completion, as the gateway returns it, as an Anthropic `message` object.

Usage: Anthropic counts cache reads apart from input (total input = input_tokens + cache_read_input_tokens
+ cache_creation_input_tokens), while chat's prompt_tokens include cached tokens, so they are split here.
A stop sequence cannot be told apart from a natural end (chat says "stop" for both), so it reports end_turn.
"""
from __future__ import annotations

import json
import uuid

from .signature import thinking_signature

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                "content_filter": "refusal"}


def message_id(completion_id: object) -> str:
    if isinstance(completion_id, str) and completion_id:
        return "msg_" + completion_id.removeprefix("chatcmpl-")
    return "msg_" + uuid.uuid4().hex


def stop_reason(finish_reason: object) -> str:
    return STOP_REASONS.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else "end_turn"


RECEIPT_FIELDS = ("cost", "cost_details")


def anthropic_usage(usage: object) -> dict:
    """Chat usage (with prompt_tokens_details / completion_tokens_details) as Anthropic's usage object."""
    usage = usage if isinstance(usage, dict) else {}
    prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    cached = min((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0, prompt)
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    out = {"input_tokens": prompt - cached, "output_tokens": completion, "cache_read_input_tokens": cached,
           "cache_creation_input_tokens": 0}
    if reasoning:
        out["output_tokens_details"] = {"thinking_tokens": reasoning}
    for name in RECEIPT_FIELDS:  # EtherGate's receipt, when the pipeline billed this usage
        if name in usage:
            out[name] = usage[name]
    return out


def tool_input(arguments: object) -> dict:
    """Tool arguments as the object a tool_use block needs; malformed JSON is kept so the client can say so."""
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"_raw_arguments": arguments}
    return value if isinstance(value, dict) else {"_raw_arguments": arguments}


def message_from_completion(completion: dict, *, model: str | None = None, omit_thinking: bool = False,
                            usage: dict | None = None, tool_names: dict | None = None) -> dict:
    """The `message` for a non-streamed chat completion (its first choice: Anthropic has no `n`).

    `usage` (chat's shape) is what the request was billed on, for answers whose provider reported none;
    `tool_names` is MessagesRequest.tool_names, to give shortened tool names back as the client wrote them.
    """
    tool_names = tool_names or {}
    choices = completion.get("choices") or [{}]
    choice = choices[0]
    answer = choice.get("message") or {}
    content: list[dict] = []
    reasoning = answer.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": "" if omit_thinking else reasoning,
                        "signature": thinking_signature(reasoning, carry=omit_thinking)})
    text = answer.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    elif isinstance(answer.get("refusal"), str) and answer["refusal"]:
        content.append({"type": "text", "text": answer["refusal"]})
    for call in answer.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id") or "toolu_" + uuid.uuid4().hex,
                        "name": tool_names.get(function.get("name"), function.get("name") or ""),
                        "input": tool_input(function.get("arguments"))})
    reason = stop_reason(choice.get("finish_reason"))
    if reason == "end_turn" and any(block["type"] == "tool_use" for block in content):
        reason = "tool_use"  # clients run tools only when told the turn stopped for them
    return {
        "id": message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model or completion.get("model") or "",
        "content": content,
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": anthropic_usage(usage if usage is not None else completion.get("usage")),
    }
