"""Reads the JSON5 that OpenClaw, Qwen Code and opencode accept (comments, trailing commas, bare keys)
and writes plain 2-space JSON back."""
from __future__ import annotations

import json
import re


class JSON5Error(ValueError):
    pass


_JSON5_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "0": "\0"}
_IDENT_START = re.compile(r"[A-Za-z_$\u0080-\uffff]")
_IDENT_PART = re.compile(r"[A-Za-z0-9_$\u0080-\uffff\u200c\u200d]")
_NUMBER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|Infinity|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")


class _JSON5Parser:
    """Enough of JSON5 for hand-written configs: comments, trailing commas, unquoted keys,
    single-quoted and multi-line strings, hex, Infinity, NaN, leading and trailing dots."""

    def __init__(self, text: str):
        self.text, self.pos, self.comments = text.lstrip("\ufeff"), 0, False

    def fail(self, what: str):
        line = self.text.count("\n", 0, self.pos) + 1
        column = self.pos - (self.text.rfind("\n", 0, self.pos) + 1) + 1
        raise JSON5Error(f"{what} at line {line}, column {column}")

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r\n\u00a0\ufeff\u2028\u2029\v\f":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
                self.comments = True
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    self.fail("unterminated comment")
                self.pos = end + 2
                self.comments = True
            else:
                break

    def document(self):
        self.skip()
        value = self.value()
        self.skip()
        if self.pos != len(self.text):
            self.fail("unexpected text after the value")
        return value

    def value(self):
        self.skip()
        if self.pos >= len(self.text):
            self.fail("unexpected end of file")
        char = self.text[self.pos]
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char in "\"'":
            return self.string()
        for word, result in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return result
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            self.fail(f"unexpected {char!r}")
        self.pos = match.end()
        return self.number(match.group())

    @staticmethod
    def number(raw: str):
        sign = -1 if raw.startswith("-") else 1
        body = raw.lstrip("+-")
        if body == "Infinity":
            return sign * float("inf")
        if body == "NaN":
            return float("nan")
        if body[:2] in ("0x", "0X"):
            return sign * int(body, 16)
        if re.fullmatch(r"\d+", body):
            return sign * int(body)
        return sign * float(body)

    def string(self) -> str:
        quote, text = self.text[self.pos], self.text
        self.pos += 1
        out = []
        while True:
            if self.pos >= len(text):
                self.fail("unterminated string")
            char = text[self.pos]
            if char == quote:
                self.pos += 1
                return "".join(out)
            if char == "\n":
                self.fail("newline in string")
            if char != "\\":
                out.append(char)
                self.pos += 1
                continue
            self.pos += 1
            escape = text[self.pos:self.pos + 1]
            if escape in ("\n", "\u2028", "\u2029"):
                self.pos += 1
            elif escape == "\r":
                self.pos += 2 if text.startswith("\r\n", self.pos) else 1
            elif escape == "u":
                out.append(self.unicode_escape())
            elif escape == "x":
                out.append(chr(int(text[self.pos + 1:self.pos + 3], 16)))
                self.pos += 3
            else:
                out.append(_JSON5_ESCAPES.get(escape, escape))
                self.pos += 1

    def unicode_escape(self) -> str:
        digits = self.text[self.pos + 1:self.pos + 5]
        if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
            self.fail("bad \\u escape")
        self.pos += 5
        code = int(digits, 16)
        if 0xD800 <= code < 0xDC00 and self.text.startswith("\\u", self.pos):
            low = int(self.text[self.pos + 2:self.pos + 6], 16)
            if 0xDC00 <= low < 0xE000:
                self.pos += 6
                return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
        return chr(code)

    def key(self) -> str:
        if self.text[self.pos] in "\"'":
            return self.string()
        start = self.pos
        if not _IDENT_START.match(self.text, self.pos):
            self.fail("expected a key")
        self.pos += 1
        while self.pos < len(self.text) and _IDENT_PART.match(self.text, self.pos):
            self.pos += 1
        return self.text[start:self.pos]

    def object(self) -> dict:
        self.pos += 1
        result: dict = {}
        while True:
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return result
            name = self.key()
            self.skip()
            if not self.text.startswith(":", self.pos):
                self.fail("expected ':'")
            self.pos += 1
            result[name] = self.value()
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("}", self.pos):
                self.fail("expected ',' or '}'")

    def array(self) -> list:
        self.pos += 1
        result: list = []
        while True:
            self.skip()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return result
            result.append(self.value())
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("]", self.pos):
                self.fail("expected ',' or ']'")


def json5_loads(text: str) -> tuple[object, bool]:
    """The value, and whether the text held comments (which a rewrite cannot keep)."""
    parser = _JSON5Parser(text)
    return parser.document(), parser.comments


def json_text(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
