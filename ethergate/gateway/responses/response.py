"""A chat completion, as the gateway returns it, as a Responses API `response` object.

Output items come in the order the model wrote them: reasoning (as reasoning_text content: it is the
model's own reasoning, not a summary), the message, then one function_call per tool call. Responses
counts cached tokens inside input_tokens, as chat does, so usage maps field for field.
"""
from __future__ import annotations

import time
import uuid

from .request import ResponsesRequest

INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def response_id(completion_id: object) -> str:
    if isinstance(completion_id, str) and completion_id:
        return "resp_" + completion_id.removeprefix("chatcmpl-")
    return new_id("resp")


def responses_usage(usage: object) -> dict | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    out = {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
           "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": reasoning},
           "total_tokens": prompt + completion}
    for name in ("cost", "cost_details"):  # EtherGate's receipt, when the pipeline billed this usage
        if name in usage:
            out[name] = usage[name]
    return out


def reasoning_item(item_id: str, text: str, status: str = "completed") -> dict:
    return {"type": "reasoning", "id": item_id, "summary": [], "content": [{"type": "reasoning_text", "text": text}],
            "status": status}


def message_item(item_id: str, parts: list[dict], status: str = "completed") -> dict:
    return {"type": "message", "id": item_id, "role": "assistant", "status": status, "content": parts}


def text_part(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str = "completed",
                       namespace: str | None = None) -> dict:
    item = {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": arguments,
            "status": status}
    if namespace:
        item["namespace"] = namespace
    return item


def response_object(request: ResponsesRequest, rid: str, created_at: int, status: str, output: list[dict],
                    usage: dict | None = None, finish_reason: str | None = None, error: dict | None = None) -> dict:
    """The full `response`, repeating the request's settings as OpenAI does."""
    reason = INCOMPLETE.get(finish_reason) if status == "incomplete" else None
    return {"id": rid, "object": "response", "created_at": created_at, "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error, "incomplete_details": {"reason": reason} if reason else None,
            "model": request.model, "output": output, "usage": usage, "background": False,
            "previous_response_id": None, **request.echo}


def status_for(finish_reason: object) -> str:
    return "incomplete" if finish_reason in INCOMPLETE else "completed"


def response_from_completion(completion: dict, request: ResponsesRequest, *, usage: dict | None = None) -> dict:
    """The `response` for a non-streamed chat completion (its first choice: Responses has no `n`).

    `usage` (chat's shape) is what the request was billed on, for answers whose provider reported none.
    """
    choice = (completion.get("choices") or [{}])[0]
    answer = choice.get("message") or {}
    output: list[dict] = []
    if isinstance(answer.get("reasoning_content"), str) and answer["reasoning_content"]:
        output.append(reasoning_item(new_id("rs"), answer["reasoning_content"]))
    if isinstance(answer.get("content"), str) and answer["content"]:
        output.append(message_item(new_id("msg"), [text_part(answer["content"])]))
    elif isinstance(answer.get("refusal"), str) and answer["refusal"]:
        output.append(message_item(new_id("msg"), [{"type": "refusal", "refusal": answer["refusal"]}]))
    for call in answer.get("tool_calls") or []:
        function = call.get("function") or {}
        name, namespace = request.call_name(function.get("name") or "")
        output.append(function_call_item(new_id("fc"), call.get("id") or new_id("call"), name,
                                         function.get("arguments") or "{}", namespace=namespace))
    finish = choice.get("finish_reason")
    created = completion.get("created") if isinstance(completion.get("created"), int) else int(time.time())
    return response_object(request, response_id(completion.get("id")), created, status_for(finish), output,
                           responses_usage(usage if usage is not None else completion.get("usage")), finish)
