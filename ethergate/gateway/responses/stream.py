"""Chat completion chunks, as the relay emits them, as the Responses API's streamed events.

Every event carries a sequence_number, counted from 0 in the order sent, as the SDK expects. Output items
open one at a time, in the order the model writes (reasoning, message text, each function call), and each
is finished (its .done events, then response.output_item.done) before the next is added. A function_call
item needs its name when added, so a call whose name has not arrived yet is held until it does. Usage
arrives after the finish chunk, so response.completed is written at the end, by finish().
"""
from __future__ import annotations

import json
import time

from ..errors import GatewayError, relayed_error
from .request import ResponsesRequest
from .response import (function_call_item, message_item, new_id, reasoning_item, response_id, response_object,
                       responses_usage, status_for, text_part)


class _Item:
    __slots__ = ("kind", "index", "id", "text", "call_id", "name", "namespace")

    def __init__(self, kind: str, call_id: str = ""):
        self.kind, self.index, self.text, self.call_id, self.name = kind, None, "", call_id, ""
        self.namespace: str | None = None
        self.id = new_id({"reasoning": "rs", "message": "msg", "function_call": "fc"}[kind])

    def snapshot(self, status: str) -> dict:
        # As added (in_progress) an item is empty: the content parts and deltas that follow fill it in.
        adding = status == "in_progress"
        if self.kind == "reasoning":
            item = reasoning_item(self.id, self.text, status)
            if adding:
                item["content"] = []
            return item
        if self.kind == "message":
            return message_item(self.id, [] if adding else [text_part(self.text)], status)
        return function_call_item(self.id, self.call_id, self.name, "" if adding else self.text, status,
                                  self.namespace)


class ResponseEvents:
    """Feed it chunk dicts; each method returns the SSE bytes to send now (possibly b"")."""

    def __init__(self, request: ResponsesRequest, *, request_id: str | None = None):
        self.request, self.request_id = request, request_id
        self.started = self.ended = False
        self.finish_reason: str | None = None
        self.usage: dict | None = None
        self.id = ""
        self.created_at = int(time.time())
        self._sequence = 0
        self._items: list[_Item] = []
        self._open: _Item | None = None
        self._calls: dict[int, _Item] = {}

    def _event(self, kind: str, **fields) -> bytes:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        return f"event: {kind}\ndata: {data}\n\n".encode("utf-8")

    def _response(self, status: str, usage: dict | None = None, error: dict | None = None) -> dict:
        item_status = "incomplete" if status in ("failed", "incomplete") else "completed"
        output = [item.snapshot(item_status if item is self._open else "completed") for item in self._items] \
            if status != "in_progress" else []
        return response_object(self.request, self.id, self.created_at, status, output, usage, self.finish_reason,
                               error)

    def start(self, completion_id: str | None = None) -> bytes:
        if self.started:
            return b""
        self.started, self.id = True, response_id(completion_id)
        response = self._response("in_progress")
        return self._event("response.created", response=response) + \
            self._event("response.in_progress", response=response)

    def keepalive(self, comment: str | None = None) -> bytes:
        return b"" if self.ended else b": keep-alive\n\n"

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
                continue  # a response has one answer; the pipeline sends n=1
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            if isinstance(delta.get("reasoning_content"), str) and delta["reasoning_content"]:
                out += self._text_delta("reasoning", delta["reasoning_content"])
            if isinstance(delta.get("content"), str) and delta["content"]:
                out += self._text_delta("message", delta["content"])
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
        status = status_for(self.finish_reason)
        response = self._response(status, responses_usage(usage if usage is not None else self.usage))
        return out + self._event(f"response.{status}", response=response)

    def fail(self, error: GatewayError) -> bytes:
        """A stream cut after it started: an `error` event, then response.failed with what was produced."""
        if self.ended:
            return b""
        out = self.start()
        self.ended = True
        out += self._event("error", code=error.code, message=error.message, param=error.param)
        failed = self._response("failed", error={"code": "server_error", "message": error.message})
        return out + self._event("response.failed", response=failed)

    def _add(self, item: _Item) -> bytes:
        out = self._close()
        item.index = len(self._items)
        self._open = item
        self._items.append(item)
        out += self._event("response.output_item.added", output_index=item.index, item=item.snapshot("in_progress"))
        if item.kind == "reasoning":
            out += self._part_event("added", item, {"type": "reasoning_text", "text": ""})
        elif item.kind == "message":
            out += self._part_event("added", item, text_part(""))
        return out

    def _part_event(self, stage: str, item: _Item, part: dict) -> bytes:
        return self._event(f"response.content_part.{stage}", item_id=item.id, output_index=item.index,
                           content_index=0, part=part)

    def _close(self) -> bytes:
        item = self._open
        if item is None:
            return b""
        self._open = None
        where = {"item_id": item.id, "output_index": item.index}
        if item.kind == "reasoning":
            out = self._event("response.reasoning_text.done", **where, content_index=0, text=item.text)
            out += self._part_event("done", item, {"type": "reasoning_text", "text": item.text})
        elif item.kind == "message":
            out = self._event("response.output_text.done", **where, content_index=0, text=item.text, logprobs=[])
            out += self._part_event("done", item, text_part(item.text))
        else:
            out = self._event("response.function_call_arguments.done", **where, name=item.name, arguments=item.text)
        return out + self._event("response.output_item.done", output_index=item.index, item=item.snapshot("completed"))

    def _text_delta(self, kind: str, text: str) -> bytes:
        out = b""
        if self._open is None or self._open.kind != kind:
            out = self._add(_Item(kind))
        item = self._open
        item.text += text
        event = "response.reasoning_text.delta" if kind == "reasoning" else "response.output_text.delta"
        extra = {} if kind == "reasoning" else {"logprobs": []}
        return out + self._event(event, item_id=item.id, output_index=item.index, content_index=0, delta=text, **extra)

    def _tool_delta(self, delta: dict) -> bytes:
        index = delta.get("index", 0)
        function = delta.get("function") or {}
        item = self._calls.get(index)
        if item is None:
            item = self._calls[index] = _Item("function_call", delta.get("id") or new_id("call"))
        if isinstance(function.get("name"), str) and function["name"] and not item.name:
            item.name, item.namespace = self.request.call_name(function["name"])
        arguments = function.get("arguments") if isinstance(function.get("arguments"), str) else ""
        if item.index is None:
            item.text += arguments
            if not item.name:
                return b""
            out = self._add(item)
            return out + (self._arguments(item, item.text) if item.text else b"")
        item.text += arguments
        return self._arguments(item, arguments) if arguments else b""

    def _arguments(self, item: _Item, piece: str) -> bytes:
        return self._event("response.function_call_arguments.delta", item_id=item.id, output_index=item.index,
                           delta=piece)

    def _flush_unnamed(self) -> bytes:
        out = b""
        for item in self._calls.values():
            if item.index is None:
                out += self._add(item) + (self._arguments(item, item.text) if item.text else b"") + self._close()
        return out
