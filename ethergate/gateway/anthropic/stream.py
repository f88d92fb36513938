"""Chat completion chunks, as the relay emits them, as Anthropic's streamed Messages events.

Blocks are opened one at a time, in the order the model writes (thinking, text, each tool call), and
each is closed before the next opens, as Anthropic's own streams do. A tool_use block needs its name at
content_block_start, so a call whose name has not arrived yet is held until it does. Usage arrives after
the finish chunk, so message_delta is written at the end, by finish().
"""
from __future__ import annotations

import json

from ..errors import GatewayError, relayed_error
from .errors import error_event
from .message import anthropic_usage, message_id, stop_reason
from .signature import thinking_signature


def encode(event: dict) -> bytes:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode("utf-8")


class _Call:
    __slots__ = ("id", "name", "arguments", "block")

    def __init__(self, call_id: str):
        self.id, self.name, self.arguments, self.block = call_id, "", "", None


class MessageEvents:
    """Feed it chunk dicts; each method returns the SSE bytes to send now (possibly b"")."""

    def __init__(self, model: str, *, request_id: str | None = None, input_tokens: int = 0,
                 omit_thinking: bool = False, tool_names: dict | None = None):
        self.model, self.request_id, self.tool_names = model, request_id, tool_names or {}
        self.input_tokens, self.omit_thinking = input_tokens, omit_thinking
        self.started = self.ended = False
        self.finish_reason: str | None = None
        self.usage: dict | None = None
        self._blocks = 0
        self._open: str | None = None          # "thinking" | "text" | "tool"
        self._thinking = ""
        self._calls: dict[int, _Call] = {}
        self._used_tools = False

    def start(self, completion_id: str | None = None) -> bytes:
        if self.started:
            return b""
        self.started = True
        message = {"id": message_id(completion_id), "type": "message", "role": "assistant", "model": self.model,
                   "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": self.input_tokens, "output_tokens": 0}}
        return encode({"type": "message_start", "message": message}) + self.keepalive()

    def keepalive(self, comment: str | None = None) -> bytes:
        return b"" if self.ended else encode({"type": "ping"})

    def feed(self, chunk: dict) -> bytes:
        if self.ended or not isinstance(chunk, dict):
            return b""
        error = relayed_error(chunk)
        if error is not None:
            return self.fail(error)
        out = self.start(chunk.get("id"))
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # Anthropic messages have one choice; the pipeline sends n=1
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            if isinstance(delta.get("reasoning_content"), str) and delta["reasoning_content"]:
                out += self._thinking_delta(delta["reasoning_content"])
            if isinstance(delta.get("content"), str) and delta["content"]:
                out += self._text_delta(delta["content"])
            for call in delta.get("tool_calls") or []:
                out += self._tool_delta(call) if isinstance(call, dict) else b""
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
                out += self._close() + self._flush_unnamed()
        return out

    def finish(self, usage: dict | None = None) -> bytes:
        """The normal end ([DONE]); `usage` is the usage the request was billed on, when the stream had none."""
        if self.ended:
            return b""
        out = self.start() + self._close() + self._flush_unnamed()
        self.ended = True
        reason = stop_reason(self.finish_reason)
        if reason == "end_turn" and self._used_tools:
            reason = "tool_use"
        usage = anthropic_usage(usage if usage is not None else self.usage)
        if usage["input_tokens"] == 0 and usage["cache_read_input_tokens"] == 0:
            usage["input_tokens"] = self.input_tokens
        out += encode({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None},
                       "usage": usage})
        return out + encode({"type": "message_stop"})

    def fail(self, error: GatewayError) -> bytes:
        """A stream cut after it started: Anthropic's `error` event, and nothing after it."""
        if self.ended:
            return b""
        self.ended = True
        return error_event(error, self.request_id)

    def _begin(self, kind: str, block: dict) -> bytes:
        out = self._close()
        self._open = kind
        self._blocks += 1
        return out + encode({"type": "content_block_start", "index": self._blocks - 1, "content_block": block})

    def _delta(self, delta: dict, index: int | None = None) -> bytes:
        return encode({"type": "content_block_delta", "index": self._blocks - 1 if index is None else index,
                       "delta": delta})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        out = b""
        if self._open == "thinking":
            signature = thinking_signature(self._thinking, carry=self.omit_thinking)
            out = self._delta({"type": "signature_delta", "signature": signature})
            self._thinking = ""
        self._open = None
        return out + encode({"type": "content_block_stop", "index": self._blocks - 1})

    def _thinking_delta(self, text: str) -> bytes:
        out = b"" if self._open == "thinking" else self._begin("thinking", {"type": "thinking", "thinking": "",
                                                                            "signature": ""})
        self._thinking += text
        return out if self.omit_thinking else out + self._delta({"type": "thinking_delta", "thinking": text})

    def _text_delta(self, text: str) -> bytes:
        out = b"" if self._open == "text" else self._begin("text", {"type": "text", "text": ""})
        return out + self._delta({"type": "text_delta", "text": text})

    def _tool_delta(self, delta: dict) -> bytes:
        index = delta.get("index", 0)
        function = delta.get("function") or {}
        call = self._calls.get(index)
        if call is None:
            call = self._calls[index] = _Call(delta.get("id") or f"toolu_{self._blocks}_{index}")
        if isinstance(function.get("name"), str) and function["name"] and not call.name:
            call.name = self.tool_names.get(function["name"], function["name"])
        arguments = function.get("arguments") if isinstance(function.get("arguments"), str) else ""
        if call.block is None:
            call.arguments += arguments
            return self._open_tool(call) if call.name else b""
        if not arguments:
            return b""
        # A call resumed after another began (never seen from these providers) still lands in its own block.
        return self._delta({"type": "input_json_delta", "partial_json": arguments}, call.block)

    def _open_tool(self, call: _Call) -> bytes:
        self._used_tools = True
        out = self._begin("tool", {"type": "tool_use", "id": call.id, "name": call.name, "input": {}})
        call.block = self._blocks - 1
        # Anthropic opens every tool input with a delta, even an empty one; some clients wait for it.
        return out + self._delta({"type": "input_json_delta", "partial_json": call.arguments})

    def _flush_unnamed(self) -> bytes:
        out = b""
        for call in self._calls.values():
            if call.block is None:
                out += self._open_tool(call) + self._close()
        return out
