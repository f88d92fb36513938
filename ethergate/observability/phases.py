"""Where a /v1 request's time goes under load: one line per request with the moment each phase ended.

Off unless ETHERGATE_PHASE_LOG names a file (read once, at import): then the server stamps when a
connection was accepted and when the request line arrived, the gateway when the key was admitted, the
credits held, the upstream answered and the capture committed, and the server when the last byte was
written. Lines are JSON with milliseconds since the request line, buffered and appended in batches:
`python -m bench.phases FILE` summarises them. Turned off, each stamp costs one dict lookup.
"""
from __future__ import annotations

import atexit
import json
import os
import time

PATH = os.environ.get("ETHERGATE_PHASE_LOG") or None
ENVIRON_KEY = "ethergate.phases"
BATCH = 256
_lines: list[str] = []


def begin(environ: dict, accepted: float | None, read: float) -> None:
    """The server read a request line at `read` (perf_counter) on a connection accepted at `accepted`."""
    environ[ENVIRON_KEY] = {"accepted": accepted, "read": read}


def mark(environ: dict, phase: str) -> None:
    marks = environ.get(ENVIRON_KEY)
    if marks is not None:
        marks[phase] = time.perf_counter()


def finish(environ: dict | None) -> None:
    """The response's last byte was written: the request's line is complete."""
    marks = environ.get(ENVIRON_KEY) if environ else None
    if marks is None:
        return
    sent = time.perf_counter()
    read = marks.pop("read")
    accepted = marks.pop("accepted")
    line = {phase: round((at - read) * 1000, 3) for phase, at in marks.items()}
    line["sent"] = round((sent - read) * 1000, 3)
    if accepted is not None:
        line["since_accept"] = round((read - accepted) * 1000, 3)
    line["at"] = round(read, 4)
    _lines.append(json.dumps(line, separators=(",", ":")))
    if len(_lines) >= BATCH:
        flush()


def flush() -> None:
    if PATH and _lines:
        with open(PATH, "a") as out:
            out.write("\n".join(_lines) + "\n")
        _lines.clear()


if PATH:
    atexit.register(flush)
