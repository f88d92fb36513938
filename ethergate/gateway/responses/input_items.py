"""Responses `input` items as chat-completions messages.

- developer and system messages become system messages, in place (DeepSeek and Kimi take no developer role).
- A `reasoning` item is the reasoning behind the assistant turn that follows it, so it becomes that turn's
  reasoning_content; encrypted_content is OpenAI's and cannot be read, so it is dropped, named.
- Consecutive assistant text and function_call items are one assistant turn with tool_calls, as chat expects.
- function_call_output becomes a `tool` message; images in it follow in a user message, as on /v1/messages.
- Items only a stateful or OpenAI-hosted server can honour (item_reference) are refused; hosted tool calls
  from another server's history are dropped, named, since the model here never made them.
"""
from __future__ import annotations

from .errors import invalid

ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
HOSTED_ITEMS = frozenset({
    "web_search_call", "file_search_call", "computer_call", "computer_call_output", "image_generation_call",
    "code_interpreter_call", "local_shell_call", "local_shell_call_output", "shell_call", "shell_call_output",
    "apply_patch_call", "apply_patch_call_output", "mcp_list_tools", "mcp_approval_request",
    "mcp_approval_response", "mcp_call", "custom_tool_call", "custom_tool_call_output", "tool_search_call",
    "tool_search_output", "additional_tools", "compaction",
})


def chat_messages(items: object, add_dropped, chat_name) -> list[dict]:
    """Chat messages for `input`; `chat_name(namespace, name)` names a function as it was sent upstream."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list):
        raise invalid("input", "expected a string or an array of input items")
    if not items:
        raise invalid("input", "empty array; send a string or at least one item")
    out: list[dict] = []
    reasoning: list[str] = []
    for index, item in enumerate(items):
        path = f"input[{index}]"
        if not isinstance(item, dict):
            raise invalid(path, "expected an input item object")
        kind = item.get("type", "message")
        if not isinstance(kind, str):  # an array or object here is not a type name (and cannot be looked up)
            raise invalid(f"{path}.type", f"expected an input item type, but got {_shown(kind)}")
        if kind == "message":
            message = _message(item, path)
            if message["role"] == "assistant":
                turn = _assistant(out, reasoning)
                turn["content"] = _joined(turn["content"], message["content"])
            else:
                out.append(message)
        elif kind == "function_call":
            call = _function_call(item, path)
            call["function"]["name"] = chat_name(item.get("namespace"), call["function"]["name"])
            _assistant(out, reasoning).setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            out.extend(_function_output(item, path, out))
        elif kind == "reasoning":
            text = _reasoning(item, path, add_dropped)
            if text:
                reasoning.append(text)
        elif kind == "item_reference":
            raise invalid(f"{path}.type", "item references need stored responses, and EtherGate stores none; "
                                          "send the items themselves")
        elif kind in HOSTED_ITEMS:
            add_dropped(f"input:{kind}")
        else:
            raise invalid(f"{path}.type", f"unknown input item type {_shown(kind)}")
    return out


def _shown(value: object) -> str:
    return repr(value[:40]) if isinstance(value, str) else type(value).__name__


def _joined(before: object, text: object) -> object:
    if not before:
        return text
    return f"{before}\n\n{text}" if text else before


def _assistant(out: list[dict], reasoning: list[str]) -> dict:
    """The assistant turn to add to: the last one if nothing came after it, else a new one."""
    if not out or out[-1]["role"] != "assistant" or reasoning:
        out.append({"role": "assistant", "content": None})
    turn = out[-1]
    if reasoning:
        turn["reasoning_content"] = "".join(reasoning)
        reasoning.clear()
    return turn


def _message(item: dict, path: str) -> dict:
    role = item.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise invalid(f"{path}.role", f"expected 'user', 'assistant', 'system' or 'developer', but got {_shown(role)}")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": ROLES[role], "content": content}
    if not isinstance(content, list):
        raise invalid(f"{path}.content", "expected a string or an array of content parts")
    parts = [_part(part, f"{path}.content[{i}]", role) for i, part in enumerate(content)]
    if role != "user" or all(part["type"] == "text" for part in parts):
        if any(part["type"] != "text" for part in parts):
            raise invalid(f"{path}.content", f"{role} messages take text only")
        return {"role": ROLES[role], "content": "\n\n".join(part["text"] for part in parts)}
    return {"role": "user", "content": parts}


def _part(part: object, path: str, role: str) -> dict:
    if not isinstance(part, dict):
        raise invalid(path, "expected a content part object")
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        if not isinstance(part.get("text"), str):
            raise invalid(f"{path}.text", "expected a string")
        return {"type": "text", "text": part["text"]}
    if kind == "refusal" and role == "assistant":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise invalid(f"{path}.image_url", "expected an https or data: URL; file_id references need the Files "
                                               "API, which EtherGate does not offer")
        image = {"url": url}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind in ("input_file", "input_audio"):
        raise invalid(f"{path}.type", f"{kind} parts are not supported by the DeepSeek, Qwen and Kimi chat models; "
                                      "send text or images")
    raise invalid(f"{path}.type", f"unknown content part type {_shown(kind)}")


def _function_call(item: dict, path: str) -> dict:
    for name in ("call_id", "name", "arguments"):
        if not isinstance(item.get(name), str) or (name != "arguments" and not item[name]):
            raise invalid(f"{path}.{name}", "expected a string")
    return {"id": item["call_id"], "type": "function",
            "function": {"name": item["name"], "arguments": item["arguments"]}}


def _function_output(item: dict, path: str, out: list[dict]) -> list[dict]:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise invalid(f"{path}.call_id", "expected the call_id of the function_call this output answers")
    output = item.get("output")
    if isinstance(output, str):
        return [{"role": "tool", "tool_call_id": call_id, "content": output}]
    if not isinstance(output, list):
        raise invalid(f"{path}.output", "expected a string or an array of content parts")
    parts = [_part(part, f"{path}.output[{i}]", "user") for i, part in enumerate(output)]
    text = "\n\n".join(part["text"] for part in parts if part["type"] == "text")
    images = [part for part in parts if part["type"] != "text"]
    result = [{"role": "tool", "tool_call_id": call_id, "content": text}]
    if images:
        # Chat's tool role carries text only; the images follow, saying which call they came from.
        result.append({"role": "user", "content": [{"type": "text", "text": f"Images returned by call {call_id}:"},
                                                   *images]})
    return result


def _reasoning(item: dict, path: str, add_dropped) -> str:
    if item.get("encrypted_content"):
        add_dropped("reasoning.encrypted_content")
    texts = [part.get("text") for part in item.get("content") or [] if isinstance(part, dict)]
    if not texts:
        texts = [part.get("text") for part in item.get("summary") or [] if isinstance(part, dict)]
    if not all(isinstance(text, str) for text in texts):
        raise invalid(f"{path}.content", "expected reasoning_text or summary_text parts with a 'text' string")
    return "\n\n".join(texts)
