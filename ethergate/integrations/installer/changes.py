"""A file's planned new content, and reading the files a plan starts from."""
from __future__ import annotations

from pathlib import Path

from .json5_reader import JSON5Error, json5_loads
from .messages import Abort
from .targets import EXIT_CONFIG


class Change:
    def __init__(self, path: Path, text: str, secret: bool = False, executable: bool = False,
                 comments_lost: bool = False):
        self.path, self.text, self.secret, self.executable = path, text, secret, executable
        self.comments_lost = comments_lost
        self.backup: Path | None = None


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail=getattr(error, "strerror", None) or error) from None


def parse_json5_file(path: Path, text: str) -> tuple[dict, bool]:
    try:
        value, comments = json5_loads(text) if text.strip() else ({}, False)
    except JSON5Error as error:
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail=error) from None
    if not isinstance(value, dict):
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail="the top level is not an object")
    return value, comments


def child_object(parent: dict, key: str, path: Path, where: str) -> dict:
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    if not isinstance(value, dict):
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail=f"{where} is not an object")
    if "$include" in value:
        raise Abort(EXIT_CONFIG, "include", path=path, where=where)
    return value
