"""Server-sent events: an incremental parser for upstream streams and the encoders for ours.

The parser follows the WHATWG event-stream rules: lines end in CRLF, LF or CR; a line starting with
":" is a comment; "data:" lines accumulate (joined with "\\n") until a blank line dispatches the event;
one space after the colon is stripped; unknown fields are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..json_body import dump_json

DONE = b"data: [DONE]\n\n"
MAX_PENDING_BYTES = 16 * 1024 * 1024


class SSEError(ValueError):
    """The stream broke the framing badly enough that we refuse to buffer it."""


@dataclass(frozen=True)
class SSEEvent:
    kind: str                    # "data" | "comment"
    value: str
    event: str | None = None     # the "event:" field, e.g. "error"; None for the default "message"

    @property
    def is_done(self) -> bool:
        return self.kind == "data" and self.value.strip() == "[DONE]"


class SSEParser:
    """Feed it bytes exactly as they come off the socket; it returns the events completed so far."""

    def __init__(self, max_pending: int = MAX_PENDING_BYTES):
        self._buffer = bytearray()
        self._skip_lf = False        # the previous feed ended on CR, so a leading LF belongs to it
        self._started = False
        self._data: list[str] = []
        self._event: str | None = None
        self._max_pending = max_pending

    def feed(self, data: bytes) -> list[SSEEvent]:
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        self._buffer += data
        if not self._started:
            if len(self._buffer) < 3 and b"\xef\xbb\xbf".startswith(bytes(self._buffer)):
                return []
            self._started = True
            if self._buffer.startswith(b"\xef\xbb\xbf"):
                del self._buffer[:3]
        events: list[SSEEvent] = []
        start = 0
        buffer = self._buffer
        size = len(buffer)
        while start < size:
            lf = buffer.find(b"\n", start)
            cr = buffer.find(b"\r", start, lf if lf >= 0 else size)
            if cr >= 0:
                end, next_start = cr, cr + 1
                if next_start < size and buffer[next_start] == 0x0A:
                    next_start += 1
                elif next_start == size:
                    self._skip_lf = True
            elif lf >= 0:
                end, next_start = lf, lf + 1
            else:
                break
            self._line(bytes(buffer[start:end]), events)
            start = next_start
        del buffer[:start]
        if len(buffer) > self._max_pending:
            raise SSEError(f"an event-stream line grew past {self._max_pending} bytes")
        return events

    def close(self) -> list[SSEEvent]:
        """Flush what is left at the end of the stream, even without the final blank line."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(bytes(self._buffer), events)
            self._buffer.clear()
        self._dispatch(events)
        return events

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        # Complete lines never split a UTF-8 sequence, so decoding per line is safe.
        line = raw.decode("utf-8", errors="replace")
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            text = line[1:]
            events.append(SSEEvent("comment", text[1:] if text.startswith(" ") else text))
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value or None

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(SSEEvent("data", "\n".join(self._data), self._event))
        self._data = []
        self._event = None


def encode_event(obj: dict) -> bytes:
    return b"data: " + dump_json(obj) + b"\n\n"


def encode_comment(text: str) -> bytes:
    # A newline inside a comment would end it and start a field, so flatten it.
    flat = " ".join(str(text).splitlines())
    return b": " + flat.encode("utf-8") + b"\n\n"
