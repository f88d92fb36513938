"""Reading chunked SSE bodies and summarising timings; no monkey-patching, so tests can import it."""
from __future__ import annotations


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def summarize(values: list[float]) -> dict:
    def rounded(v):
        return None if v is None else round(v, 3)
    return {"p50": rounded(percentile(values, 50)), "p90": rounded(percentile(values, 90)),
            "p99": rounded(percentile(values, 99)), "max": rounded(max(values) if values else None),
            "samples": len(values)}


class ChunkedEvents:
    """Decodes a chunked HTTP body incrementally into SSE events (the data of each event)."""

    def __init__(self):
        self.raw = b""
        self.text = b""
        self.need: int | None = None  # bytes of chunk data (plus CRLF) still expected
        self.finished = False

    def feed(self, data: bytes) -> list[bytes]:
        self.raw += data
        while not self.finished:
            if self.need is None:
                end = self.raw.find(b"\r\n")
                if end < 0:
                    break
                size = int(self.raw[:end].split(b";")[0], 16)
                self.raw = self.raw[end + 2:]
                if size == 0:
                    self.finished = True
                    break
                self.need = size + 2
            if len(self.raw) < self.need:
                break
            self.text += self.raw[:self.need - 2].replace(b"\r\n", b"\n")
            self.raw = self.raw[self.need:]
            self.need = None
        events = []
        while b"\n\n" in self.text:
            block, self.text = self.text.split(b"\n\n", 1)
            data = b"\n".join(line[5:].lstrip() for line in block.split(b"\n") if line.startswith(b"data:"))
            if data:
                events.append(data)
        return events
