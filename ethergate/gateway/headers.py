"""Response headers carry only printable ASCII: client-chosen text in them is percent-encoded, never raw.

A raw CR/LF would split the header block and a non-Latin-1 character cannot be written at all, so
either would fail only after the request was answered upstream and billed.
"""
from __future__ import annotations

import re
from urllib.parse import quote

SAFE_VALUE = re.compile(r"[\x20-\x7e]*")
# Printable ASCII except '%', so an escaped value decodes back unambiguously.
KEEP = "".join(chr(c) for c in range(0x21, 0x7f) if chr(c) != "%")
MAX_DROPPED_HEADER = 1024


def escape_header_value(value: str) -> str:
    """`value` as printable ASCII: unchanged when it already is, else percent-encoded as UTF-8."""
    if SAFE_VALUE.fullmatch(value):
        return value
    return quote(value, safe=KEEP + " ", errors="backslashreplace")


def dropped_params_header(names: list[str]) -> str | None:
    """X-Dropped-Params: each name percent-encoded unless it is a plain token, cut at whole names at 1 KB."""
    value = ""
    for name in names:
        joined = (value + "," if value else "") + quote(name, safe="", errors="backslashreplace")
        if len(joined) > MAX_DROPPED_HEADER:
            break
        value = joined
    return value or None


def make_headers_safe(headers) -> None:
    """Escape, in place, any header value that is not printable ASCII (a guard behind the escaping at source)."""
    items = list(headers.items())
    safe = [(name, escape_header_value(value)) for name, value in items]
    if safe != items:
        headers.clear()
        headers.extend(safe)
