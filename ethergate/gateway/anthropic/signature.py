"""Thinking-block signatures: opaque to clients, and the carrier of thinking that was not displayed.

With `display: "omitted"` (Claude Code asks for it) the client never sees the thinking text, but it sends
the block back with its signature. DeepSeek and Kimi want a tool-call turn's real reasoning back, so such a
signature carries the reasoning, compressed, as Anthropic's own signatures carry encrypted thinking. A
displayed block comes back with its text, so its signature is only a digest. A client that edits a carried
signature changes nothing it could not already send as thinking text.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import zlib

DIGEST = "ethergate.d."
CARRIED = "ethergate.z."
MAX_CARRIED_BYTES = 4 * 1024 * 1024  # a decompression bound, far above any real reasoning


def thinking_signature(thinking: str, carry: bool = False) -> str:
    data = thinking.encode("utf-8")
    if carry:
        return CARRIED + base64.urlsafe_b64encode(zlib.compress(data, 6)).decode("ascii")
    return DIGEST + hashlib.sha256(data).hexdigest()[:32]


def carried_thinking(signature: object) -> str | None:
    """The reasoning a carried signature holds, or None for any other signature (including Anthropic's)."""
    if not isinstance(signature, str) or not signature.startswith(CARRIED):
        return None
    try:
        packed = base64.urlsafe_b64decode(signature[len(CARRIED):])
        inflater = zlib.decompressobj()
        data = inflater.decompress(packed, MAX_CARRIED_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            return None
        return data.decode("utf-8")
    except (binascii.Error, ValueError, zlib.error, UnicodeDecodeError):
        return None
