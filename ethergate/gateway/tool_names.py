"""Tool names as chat completions allows them: 1-64 letters, digits, underscores or dashes.

Anthropic allows 128 characters (Claude Code's MCP tools reach that) and Responses namespaces add a prefix,
so a name that does not fit is shortened to a stable form: its first 55 safe characters, "_", and 8 hex
digits of its SHA-256. The same name always gives the same form, so tool calls in the history still match,
and each surface maps the form back to the client's name on the way out.
"""
from __future__ import annotations

import hashlib
import re

CHAT_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def chat_tool_name(name: str) -> str:
    if CHAT_NAME.fullmatch(name):
        return name
    return UNSAFE.sub("_", name)[:55] + "_" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
