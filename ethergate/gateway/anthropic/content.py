"""Anthropic messages and content blocks as chat-completions messages.

- tool_result blocks become `tool` messages, placed first because chat requires them right after the
  assistant turn that called the tools; a tool role carries text only, so images a tool returned follow
  in a user message that says which call they came from.
- thinking blocks become the assistant's `reasoning_content` (DeepSeek's convention, which the adapters
  echo back to providers that require it); thinking that was not displayed comes back inside our own
  signature (see signature.py); other signatures are not sent.
- `role: "system"` turns inside `messages` (sent by Claude Code) are hoisted into the system prompt,
  because Qwen refuses a system message that is not first.
"""
from __future__ import annotations

import json

from ..dropped import Dropped
from ..tool_names import chat_tool_name
from .errors import invalid
from .signature import carried_thinking

DROPPED_ASSISTANT_BLOCKS = frozenset({
    "redacted_thinking", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
    "code_execution_tool_result", "bash_code_execution_tool_result", "text_editor_code_execution_tool_result",
    "tool_search_tool_result", "mcp_tool_use", "mcp_tool_result", "container_upload",
})
USER_BLOCKS = ("text", "image", "document", "search_result", "tool_result")


def chat_messages(messages: object, dropped: Dropped) -> tuple[list[dict], list[str]]:
    """The chat messages for `messages`, and the text of any system turns found among them."""
    if not isinstance(messages, list):
        raise invalid("messages", "expected an array of messages")
    if not messages:
        raise invalid("messages", "at least one message is required")
    out: list[dict] = []
    hoisted: list[str] = []
    for index, message in enumerate(messages):
        path = f"messages.{index}"
        if not isinstance(message, dict):
            raise invalid(path, "expected an object with 'role' and 'content'")
        role = message.get("role")
        blocks = _blocks(message.get("content"), f"{path}.content", dropped, allow_empty=role == "assistant")
        if role == "user":
            out.extend(_user_turn(blocks, path))
        elif role == "assistant":
            out.append(_assistant_turn(blocks, path, dropped))
        elif role == "system":
            hoisted.append(_text_only(blocks, f"{path}.content"))
        else:
            raise invalid(f"{path}.role", f"expected 'user' or 'assistant', but got {_shown(role)}")
    return out, hoisted


def system_prompt(system: object, dropped: Dropped) -> str | None:
    """The system prompt as one string; Claude Code's attribution block is not an instruction, so it is left out."""
    if system is None:
        return None
    if isinstance(system, str):
        return system
    texts = []
    for block in _blocks(system, "system", dropped, allow_empty=True):
        if block["type"] != "text":
            raise invalid(f"{block['_path']}.type", f"the system prompt takes only text blocks, not {block['type']!r}")
        if block["text"].startswith("x-anthropic-billing-header:"):
            dropped.add("system.x-anthropic-billing-header")
            continue
        texts.append(block["text"])
    return "\n\n".join(texts)


def _shown(value: object) -> str:
    return repr(value[:40]) if isinstance(value, str) else type(value).__name__


def _blocks(content: object, path: str, dropped: Dropped, allow_empty: bool = False) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content, "_path": path}]
    if not isinstance(content, list):
        raise invalid(path, "expected a string or an array of content blocks")
    if not content and not allow_empty:
        raise invalid(path, "at least one content block is required")
    blocks = []
    for index, block in enumerate(content):
        where = f"{path}.{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise invalid(where, "expected a content block object with a 'type'")
        if block.get("cache_control") is not None:
            dropped.add("cache_control")  # providers cache prompt prefixes on their own
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            raise invalid(f"{where}.text", "expected a string")
        blocks.append({**block, "_path": where})
    return blocks


def _text_only(blocks: list[dict], path: str) -> str:
    for block in blocks:
        if block["type"] != "text":
            raise invalid(f"{block['_path']}.type", f"a system turn takes only text blocks, not {block['type']!r}")
    return "\n\n".join(block["text"] for block in blocks)


def _user_turn(blocks: list[dict], path: str) -> list[dict]:
    tool_messages: list[dict] = []
    parts: list[dict] = []
    tool_images: list[dict] = []
    for block in blocks:
        kind, where = block["type"], block["_path"]
        if kind == "tool_result":
            call_id = block.get("tool_use_id")
            if not isinstance(call_id, str) or not call_id:
                raise invalid(f"{where}.tool_use_id", "expected the id of the tool_use block this result answers")
            text, images = _tool_result(block.get("content"), f"{where}.content")
            if block.get("is_error") is True:
                # Chat has no error flag on tool results; the model must still learn that the call failed.
                text = f"Error: {text}" if text else "Error"
            if images:
                tool_images.append({"type": "text", "text": f"Images returned by tool call {call_id}:"})
                tool_images.extend(images)
            tool_messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
        elif kind in USER_BLOCKS:
            parts.extend(_user_parts(block, where))
        else:
            raise invalid(f"{where}.type", f"a user message cannot contain {kind!r} blocks; expected one of "
                                           + ", ".join(repr(k) for k in USER_BLOCKS))
    out = tool_messages
    if tool_images or parts:
        out = out + [{"role": "user", "content": _chat_content(tool_images + parts)}]
    return out


def _chat_content(parts: list[dict]) -> str | list[dict]:
    if all(part["type"] == "text" for part in parts):
        return "\n\n".join(part["text"] for part in parts)
    return parts


def _user_parts(block: dict, where: str) -> list[dict]:
    kind = block["type"]
    if kind == "text":
        return [{"type": "text", "text": block["text"]}]
    if kind == "image":
        return [_image_part(block.get("source"), f"{where}.source")]
    if kind == "search_result":
        texts = [b.get("text") for b in block.get("content") or [] if isinstance(b, dict) and b.get("type") == "text"]
        heading = " ".join(str(block.get(k)) for k in ("title", "source") if isinstance(block.get(k), str))
        return [{"type": "text", "text": "\n".join(filter(None, [heading, *texts]))}]
    return _document_parts(block, where)


def _image_part(source: object, path: str) -> dict:
    if not isinstance(source, dict):
        raise invalid(path, "expected an image source object")
    kind = source.get("type")
    if kind == "base64":
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str) or not data:
            raise invalid(path, "a base64 image needs 'media_type' and non-empty 'data'")
        return {"type": "image_url", "image_url": {"url": f"data:{media};base64,{data}"}}
    if kind == "url":
        if not isinstance(source.get("url"), str) or not source["url"]:
            raise invalid(f"{path}.url", "expected the image URL")
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    if kind == "file":
        raise invalid(f"{path}.type", "Files API references are not supported; send the image as base64 or a URL")
    raise invalid(f"{path}.type", f"expected 'base64' or 'url', but got {_shown(kind)}")


def _document_parts(block: dict, where: str) -> list[dict]:
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    title = block.get("title") if isinstance(block.get("title"), str) else None
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        return [{"type": "text", "text": f"{title}\n\n{source['data']}" if title else source["data"]}]
    if source.get("type") == "content" and isinstance(source.get("content"), list):
        inner = [{**b, "_path": f"{where}.source.content.{i}"} for i, b in enumerate(source["content"])
                 if isinstance(b, dict)]
        return [part for b in inner if b.get("type") in ("text", "image") for part in _user_parts(b, b["_path"])]
    raise invalid(f"{where}.source", "only plain-text documents are supported (source type 'text' or "
                                     "'content'); PDF and file documents are not read by DeepSeek, Qwen or Kimi "
                                     "chat models, so send the extracted text")


def _tool_result(content: object, path: str) -> tuple[str, list[dict]]:
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise invalid(path, "expected a string or an array of content blocks")
    texts: list[str] = []
    images: list[dict] = []
    for index, block in enumerate(content):
        where = f"{path}.{index}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "image":
            images.append(_image_part(block.get("source"), f"{where}.source"))
        elif kind == "tool_reference":
            continue  # a tool-search hit; deferred tools are always loaded here, so there is nothing to add
        elif kind in ("text", "search_result", "document"):
            if kind == "text" and not isinstance(block.get("text"), str):
                raise invalid(f"{where}.text", "expected a string")
            texts.extend(part["text"] for part in _user_parts(block, where) if part["type"] == "text")
        else:
            raise invalid(f"{where}.type", f"a tool result takes text, image or document blocks, not {_shown(kind)}")
    return "\n\n".join(texts), images


def _assistant_turn(blocks: list[dict], path: str, dropped: Dropped) -> dict:
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict] = []
    for block in blocks:
        kind, where = block["type"], block["_path"]
        if kind == "text":
            texts.append(block["text"])
        elif kind == "thinking":
            if not isinstance(block.get("thinking"), str):
                raise invalid(f"{where}.thinking", "expected a string")
            reasoning.append(block["thinking"] or carried_thinking(block.get("signature")) or "")
        elif kind == "tool_use":
            calls.append(_tool_call(block, where))
        elif kind in DROPPED_ASSISTANT_BLOCKS:
            dropped.add(kind)  # server-side tool traffic and encrypted thinking mean nothing to another model
        else:
            raise invalid(f"{where}.type", f"an assistant message cannot contain {kind!r} blocks")
    message: dict = {"role": "assistant", "content": "\n\n".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if any(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    return message


def _tool_call(block: dict, where: str) -> dict:
    call_id, name, arguments = block.get("id"), block.get("name"), block.get("input")
    if not isinstance(call_id, str) or not call_id:
        raise invalid(f"{where}.id", "expected the tool_use id")
    if not isinstance(name, str) or not name:
        raise invalid(f"{where}.name", "expected the tool name")
    if not isinstance(arguments, dict):
        raise invalid(f"{where}.input", "expected an object")
    return {"id": call_id, "type": "function",
            "function": {"name": chat_tool_name(name), "arguments": json.dumps(arguments, ensure_ascii=False)}}
