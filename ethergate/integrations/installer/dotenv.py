"""The EtherGate key in a tool's .env file (Hermes, Qwen Code and Codex read one at start)."""
from __future__ import annotations

import re

from .changes import Change, read_text
from .layout import Layout
from .targets import KEY_ENV


def dotenv_merge(text: str, key: str) -> str:
    lines = text.splitlines()
    out, placed = [], False
    pattern = re.compile(r"^\s*(?:export\s+)?" + KEY_ENV + r"\s*=")
    for line in lines:
        if pattern.match(line):
            if not placed:
                out.append(f"{KEY_ENV}={key}")
                placed = True
            continue
        out.append(line)
    if not placed:
        out.append(f"{KEY_ENV}={key}")
    return "\n".join(out) + "\n"


def dotenv_change(layout: Layout, key: str) -> list[Change]:
    """The edit that puts the key in <home>/.env, or none when it is already there."""
    path = layout.home / ".env"
    old = read_text(path) or ""
    new = dotenv_merge(old, key)
    return [Change(path, new, secret=True)] if new != old else []


def dotenv_read(text: str) -> str | None:
    for line in text.splitlines():
        match = re.match(r"^\s*(?:export\s+)?" + KEY_ENV + r"\s*=\s*(.*)$", line)
        if match:
            value = match.group(1).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            return value or None
    return None


def env_file_key(layout: Layout) -> str | None:
    """The key in <home>/.env, for the tools that read their key from there."""
    text = read_text(layout.home / ".env")
    return dotenv_read(text) if text else None
