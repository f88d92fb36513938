"""Line edits of YAML that leave every line the edit does not own as it was: block mappings and
sequences (Hermes' config.yaml) and flat files of top-level keys (aider's .aider.conf.yml)."""
from __future__ import annotations

import json
import re


class YAMLEditError(ValueError):
    pass


_KEY_LINE = re.compile(r"""^(?P<indent> *)(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{}\[\],&*!|>%@`-][^#:]*?|-[^\s#:][^#:]*?) *:(?: +(?P<rest>.*))?$""")
_QUOTED = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^']|'')*'""")


def is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _width(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def without_comment(raw: str | None) -> str:
    raw = (raw or "").strip()
    quoted = _QUOTED.match(raw)
    if quoted:
        return quoted.group()
    return "" if raw.startswith("#") else re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def yaml_scalar(raw: str | None):
    """A flow scalar as Hermes' PyYAML would read it, for the few values the installer inspects."""
    value = without_comment(raw)
    if value.startswith('"'):
        try:
            return json.loads(value)
        except ValueError:
            return value[1:-1]
    if value.startswith("'"):
        return value[1:-1].replace("''", "'")
    return None if value in ("", "~", "null", "Null", "NULL") else value


def yaml_quote(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def is_empty_inline(rest: str | None) -> bool:
    return without_comment(rest) in ("", "~", "null", "Null", "NULL", "{}", "[]", "''", '""')


class YAMLDocument:
    """A YAML file as lines, with just the structural look-ups the Hermes merge needs."""

    def __init__(self, text: str):
        if any("\t" in line[:len(line) - len(line.lstrip())] for line in text.splitlines() if is_content(line)):
            raise YAMLEditError("tab indentation")
        self.lines = text.splitlines()

    def text(self) -> str:
        return "\n".join(self.lines) + "\n" if self.lines else ""

    def top_block(self, key: str) -> tuple[int, int, str | None] | None:
        """(line of `key:`, end of its block (exclusive), inline value) of a top-level key."""
        for index, line in enumerate(self.lines):
            if not is_content(line) or _width(line) or line.startswith("-") or line.strip() == "...":
                continue
            match = _KEY_LINE.match(line)
            if match and yaml_scalar(match.group("key")) == key:
                end, last = index + 1, index
                # PyYAML writes a mapping's list at column 0 ("- item"); that is still inside the block.
                while end < len(self.lines):
                    here = self.lines[end]
                    if is_content(here):
                        if not _width(here) and not here.startswith("- ") and here.strip() != "-":
                            break
                        last = end
                    end += 1
                return index, last + 1, match.group("rest")
        return None

    def _rows(self, start: int, end: int) -> list[int]:
        indent, rows = None, []
        for index in range(start + 1, end):
            line = self.lines[index]
            if not is_content(line):
                continue
            if indent is None:
                indent = _width(line)
            if _width(line) == indent:
                rows.append(index)
        return rows

    def _spans(self, rows: list[int], end: int) -> list[tuple[int, int]]:
        spans = []
        for position, first in enumerate(rows):
            stop = rows[position + 1] if position + 1 < len(rows) else end
            while stop - 1 > first and not is_content(self.lines[stop - 1]):
                stop -= 1
            spans.append((first, stop))
        return spans

    def children(self, start: int, end: int) -> tuple[int, list[tuple[str, int, int, str | None]]]:
        """The mapping under lines[start]: its indent and (key, first line, end, inline value) rows."""
        rows = self._rows(start, end)
        result = []
        for first, stop in self._spans(rows, end):
            line = self.lines[first]
            match = _KEY_LINE.match(line)
            if not match or line.lstrip().startswith("- ") or not _width(line):
                raise YAMLEditError(f"line {first + 1} is not a simple mapping entry")
            result.append((yaml_scalar(match.group("key")), first, stop, match.group("rest")))
        return (_width(self.lines[rows[0]]) if rows else 2), result

    def sequence_items(self, start: int, end: int) -> list[tuple[int, int]]:
        rows = self._rows(start, end)
        if any(not self.lines[row].lstrip().startswith("-") for row in rows):
            raise YAMLEditError(f"line {start + 1} does not hold a block list")
        return self._spans(rows, end)

    def item_scalars(self, first: int, stop: int) -> dict:
        """`key: scalar` pairs of one block-list item that is a mapping."""
        head = self.lines[first]
        after_dash = head.lstrip()[1:]
        content = _width(head) + 1 + _width(after_dash)
        values = {}
        for index in range(first, stop):
            line = " " * content + after_dash.lstrip(" ") if index == first else self.lines[index]
            if is_content(line) and _width(line) == content:
                match = _KEY_LINE.match(line)
                if match:
                    values[yaml_scalar(match.group("key"))] = yaml_scalar(match.group("rest"))
        return values


def flat_yaml_read(text: str, key: str):
    """A top-level scalar of a flat YAML file such as .aider.conf.yml, or None."""
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        if match and not match.group("indent") and yaml_scalar(match.group("key")) == key:
            return yaml_scalar(match.group("rest"))
    return None


def flat_yaml_merge(text: str, values: dict) -> str:
    """Top-level `key: value` lines set in place (the first of duplicates kept), new keys appended;
    every other line, comment and blank stays as it was."""
    out, placed = [], set()
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        key = yaml_scalar(match.group("key")) if match and not match.group("indent") else None
        if key in values:
            if key not in placed:
                out.append(f"{key}: {yaml_quote(values[key])}")
                placed.add(key)
            continue
        out.append(line)
    out.extend(f"{key}: {yaml_quote(value)}" for key, value in values.items() if key not in placed)
    return "\n".join(out) + "\n"
