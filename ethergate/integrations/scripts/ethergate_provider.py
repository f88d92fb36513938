"""EtherGate provider installer for QClaw, OpenClaw, Hermes, Qwen Code, opencode and aider: the merge engine.

Both install.sh and install.ps1 run this one program, and the EtherGate skill keeps a copy of it
to refresh models later, so every platform makes the same decisions. Python standard library only.

Formats, as verified against the tools' own sources and docs:
- OpenClaw: JSON5 config at $OPENCLAW_CONFIG_PATH, else $OPENCLAW_STATE_DIR/openclaw.json, else
  ~/.openclaw/openclaw.json (docs/help/environment.md). Custom providers live under
  models.providers.<id> {baseUrl, apiKey, api, models[{id, name, reasoning, input, cost{input,
  output, cacheRead, cacheWrite}, contextWindow, maxTokens}]} (docs/gateway/config-tools/
  custom-providers.md). Agent caches <state>/agents/<id>/agent/models.json hold {"providers": ...}
  written as 2-space JSON, and their non-empty baseUrl/apiKey win over the config, so ours are
  replaced there too. Shared skills load from <state>/skills/<name>/SKILL.md (docs/tools/skills.md).
- QClaw: OpenClaw under its own state dir; the app writes ~/.qclaw/qclaw.json {stateDir,
  configPath, cli{nodeBinary, openclawMjs}} on every start (QClaw's writeQClawMeta).
- Hermes: $HERMES_HOME, else ~/.hermes (%LOCALAPPDATA%\\hermes on Windows) (hermes_constants.py).
  config.yaml providers.<id> {name, api, key_env, transport, default_model, models{<id>:
  {context_length}}} (hermes_cli/config.py _normalize_custom_provider_entry, runtime_provider.py
  _get_named_custom_provider); model {provider, default}; the key in <home>/.env, which Hermes loads
  over the shell environment (hermes_cli/env_loader.py); skills in <home>/skills/<name>/SKILL.md.
- Qwen Code: ~/.qwen/settings.json (JSON with comments; Qwen Code migrates and rewrites it on start):
  modelProviders.<id> [{id, name, baseUrl, envKey, generationConfig{contextWindowSize,
  samplingParams{max_tokens}}}], providerProtocol.<id> "openai", security.auth.selectedType,
  model.name; the key itself in ~/.qwen/.env, which Qwen Code loads; privacy.usageStatisticsEnabled
  and memory.enableManagedAutoMemory off. Skills in ~/.qwen/skills/<name>/SKILL.md.
- opencode: $OPENCODE_CONFIG, else $XDG_CONFIG_HOME/opencode/opencode.json (~/.config/opencode):
  provider.<id> {npm "@ai-sdk/openai-compatible", name, options{baseURL, apiKey}, models{<id>:
  {name, limit{context, output}, reasoning, tool_call, attachment}}}, model and small_model
  "<provider>/<model>", autoupdate false, share disabled. Skills in <dir>/skills/<name>/SKILL.md.
- aider: ~/.aider.conf.yml top-level keys model "openai/<id>", openai-api-base, openai-api-key,
  check-update false, analytics-disable true; context and output limits in ~/.aider.model.metadata.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PROVIDER_ID = "ethergate"
SKILL_NAME = "ethergate-provider"
KEY_ENV = "ETHERGATE_API_KEY"
PREFERRED_MODELS = ("deepseek/deepseek-v4-flash", "qwen/qwen-plus")
TARGETS = ("qclaw", "openclaw", "hermes", "qwen-code", "opencode", "aider", "claude-code", "codex")
TOOL_NAMES = {"qclaw": "QClaw", "openclaw": "OpenClaw", "hermes": "Hermes", "qwen-code": "Qwen Code",
              "opencode": "opencode", "aider": "aider", "claude-code": "Claude Code", "codex": "Codex"}
OPENCLAW_TARGETS = ("qclaw", "openclaw")
# The cheapest-output models first, for tools with a second, "small" model slot.
SMALL_MODELS = ("qwen/qwen-flash", "deepseek/deepseek-v4-flash")
EXIT_USAGE, EXIT_HOME, EXIT_KEY, EXIT_SERVER, EXIT_CONFIG = 2, 3, 4, 5, 6

MESSAGES = {
    "en": {
        "unknown_target": "Unknown target {target!r}: use one of qclaw, openclaw, hermes, qwen-code, opencode, aider, claude-code, codex.",
        "bad_locale": "Unknown locale {locale!r}: use en or zh.",
        "bad_key": "The API key looks malformed: paste the whole cr_... key.",
        "no_key": "No --api-key given and no EtherGate key is stored in {path}: rerun with --api-key.",
        "missing_home": "{tool} home not found at {path}. Run {tool} once, or pass --home DIR pointing at its real home.",
        "not_writable": "Cannot write {path}: permission denied. Nothing was changed.",
        "checking": "Checking the key against {url} ...",
        "rejected": "The API key was rejected (401): it is wrong, revoked or expired. Create a key in the EtherGate console and rerun with --api-key.",
        "server_error": "EtherGate answered {status} for {url}: {detail}",
        "unreachable": "Cannot reach {url}: {detail}",
        "no_models": "This key can use no models: check the key's model limits in the console.",
        "unknown_model": "Model {model!r} is not available to this key. Available: {available}",
        "accepted": "Key accepted: {count} models available.",
        "parse_error": "Cannot read {path}: {detail}. Fix the file or restore a backup; nothing was changed.",
        "readonly": "OpenClaw config is read-only here ({var}=1); nothing was changed.",
        "include": "{path} uses $include under {where}: add the EtherGate provider there by hand; nothing was changed.",
        "would_write": "Would update {path}",
        "wrote": "Updated {path}",
        "backup": "  backup: {path}",
        "unchanged": "Already up to date: {path}",
        "comments_lost": "Note: comments in {path} were not preserved; the original is kept at {backup}.",
        "default_set": "Default model: {model}",
        "default_kept": "Default model left as {model} (not EtherGate's); pick an EtherGate model in {tool} to use one.",
        "dry_run": "Dry run: nothing was written.",
        "nothing": "Nothing to change.",
        "write_failed": "Writing {path} failed: {detail}. Files written in this run were restored.",
        "restart_openclaw": "Restart OpenClaw to load it: openclaw gateway restart (or stop and start it).",
        "restart_qclaw": "Quit and reopen QClaw to load it.",
        "restart_hermes": "Start a new Hermes session (exit and run hermes again; for the gateway: hermes gateway restart).",
        "restart_qwen-code": "Start a new Qwen Code session (exit and run qwen again); /model lists the EtherGate models.",
        "restart_opencode": "Start opencode again; /models lists the EtherGate models. To stop it fetching the public model list, set OPENCODE_DISABLE_MODELS_FETCH=1 in your shell.",
        "restart_aider": "Run aider again from any directory; it reads ~/.aider.conf.yml.",
        "skill_hint": "Then ask the EtherGate skill to refresh models whenever the catalog changes.",
        "restart_claude-code": "Start a new Claude Code session (run claude again) to load it.",
        "restart_codex": "Start a new Codex session (run codex again) to load it; the key is in {path}.",
    },
    "zh": {
        "unknown_target": "未知的目标 {target!r}：请使用 qclaw、openclaw、hermes、qwen-code、opencode、aider、claude-code 或 codex。",
        "bad_locale": "未知的语言 {locale!r}：请使用 en 或 zh。",
        "bad_key": "API 密钥格式不正确：请粘贴完整的 cr_... 密钥。",
        "no_key": "未提供 --api-key，且 {path} 中没有已保存的 EtherGate 密钥：请加上 --api-key 重新运行。",
        "missing_home": "在 {path} 未找到 {tool} 的配置目录。请先运行一次 {tool}，或用 --home 指向它的实际目录。",
        "not_writable": "无法写入 {path}：权限不足。未做任何修改。",
        "checking": "正在通过 {url} 验证密钥……",
        "rejected": "API 密钥被拒绝（401）：密钥错误、已撤销或已过期。请在 EtherGate 控制台创建密钥后用 --api-key 重新运行。",
        "server_error": "EtherGate 对 {url} 返回 {status}：{detail}",
        "unreachable": "无法连接 {url}：{detail}",
        "no_models": "此密钥没有可用的模型：请在控制台检查该密钥的模型限制。",
        "unknown_model": "此密钥不能使用模型 {model!r}。可用模型：{available}",
        "accepted": "密钥有效：共 {count} 个可用模型。",
        "parse_error": "无法读取 {path}：{detail}。请修复该文件或恢复备份；未做任何修改。",
        "readonly": "此处 OpenClaw 配置为只读（{var}=1）；未做任何修改。",
        "include": "{path} 在 {where} 下使用了 $include：请手动在那里添加 EtherGate 提供方；未做任何修改。",
        "would_write": "将更新 {path}",
        "wrote": "已更新 {path}",
        "backup": "  备份：{path}",
        "unchanged": "无需更新：{path}",
        "comments_lost": "注意：{path} 中的注释未被保留；原文件保存在 {backup}。",
        "default_set": "默认模型：{model}",
        "default_kept": "默认模型保持为 {model}（不是 EtherGate 的模型）；如需使用，请在 {tool} 中选择 EtherGate 模型。",
        "dry_run": "试运行：未写入任何文件。",
        "nothing": "没有需要修改的内容。",
        "write_failed": "写入 {path} 失败：{detail}。本次已写入的文件均已恢复。",
        "restart_openclaw": "重启 OpenClaw 以加载配置：openclaw gateway restart（或先停止再启动）。",
        "restart_qclaw": "退出并重新打开 QClaw 以加载配置。",
        "restart_hermes": "开启新的 Hermes 会话（退出后重新运行 hermes；网关请运行 hermes gateway restart）。",
        "restart_qwen-code": "开启新的 Qwen Code 会话（退出后重新运行 qwen）；/model 会列出 EtherGate 模型。",
        "restart_opencode": "重新启动 opencode；/models 会列出 EtherGate 模型。如不希望它获取公共模型列表，请在 shell 中设置 OPENCODE_DISABLE_MODELS_FETCH=1。",
        "restart_aider": "在任意目录重新运行 aider；它会读取 ~/.aider.conf.yml。",
        "skill_hint": "之后模型目录有变化时，可让 EtherGate 技能刷新模型。",
        "restart_claude-code": "开启新的 Claude Code 会话（重新运行 claude）以加载配置。",
        "restart_codex": "开启新的 Codex 会话（重新运行 codex）以加载配置；密钥保存在 {path}。",
    },
}


class Abort(Exception):
    """A user-facing failure: a localized message and the exit code that goes with it."""

    def __init__(self, code: int, key: str, **fields):
        super().__init__(key)
        self.code, self.key, self.fields = code, key, fields


def say(locale: str, key: str, **fields) -> str:
    return MESSAGES[locale][key].format(**fields)


# JSON5 ----------------------------------------------------------------------------------------

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


# YAML: line edits on Hermes' block-style config, so comments and layout survive ------------------

class YAMLEditError(ValueError):
    pass


_KEY_LINE = re.compile(r"""^(?P<indent> *)(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{}\[\],&*!|>%@`-][^#:]*?|-[^\s#:][^#:]*?) *:(?: +(?P<rest>.*))?$""")
_QUOTED = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^']|'')*'""")


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _width(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _without_comment(raw: str | None) -> str:
    raw = (raw or "").strip()
    quoted = _QUOTED.match(raw)
    if quoted:
        return quoted.group()
    return "" if raw.startswith("#") else re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def yaml_scalar(raw: str | None):
    """A flow scalar as Hermes' PyYAML would read it, for the few values the installer inspects."""
    value = _without_comment(raw)
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


def _is_empty_inline(rest: str | None) -> bool:
    return _without_comment(rest) in ("", "~", "null", "Null", "NULL", "{}", "[]", "''", '""')


class YAMLDocument:
    """A YAML file as lines, with just the structural look-ups the Hermes merge needs."""

    def __init__(self, text: str):
        if any("\t" in line[:len(line) - len(line.lstrip())] for line in text.splitlines() if _is_content(line)):
            raise YAMLEditError("tab indentation")
        self.lines = text.splitlines()

    def text(self) -> str:
        return "\n".join(self.lines) + "\n" if self.lines else ""

    def top_block(self, key: str) -> tuple[int, int, str | None] | None:
        """(line of `key:`, end of its block (exclusive), inline value) of a top-level key."""
        for index, line in enumerate(self.lines):
            if not _is_content(line) or _width(line) or line.startswith("-") or line.strip() == "...":
                continue
            match = _KEY_LINE.match(line)
            if match and yaml_scalar(match.group("key")) == key:
                end, last = index + 1, index
                # PyYAML writes a mapping's list at column 0 ("- item"); that is still inside the block.
                while end < len(self.lines):
                    here = self.lines[end]
                    if _is_content(here):
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
            if not _is_content(line):
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
            while stop - 1 > first and not _is_content(self.lines[stop - 1]):
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
            if _is_content(line) and _width(line) == content:
                match = _KEY_LINE.match(line)
                if match:
                    values[yaml_scalar(match.group("key"))] = yaml_scalar(match.group("rest"))
        return values


def hermes_provider_lines(entry: dict, unit: int) -> list[str]:
    pad = " " * unit
    lines = [f"{PROVIDER_ID}:"]
    for key in ("name", "api", "key_env", "transport", "default_model"):
        lines.append(f"{pad}{key}: {yaml_quote(entry[key])}")
    lines.append(f"{pad}models:")
    for model_id, meta in entry["models"].items():
        lines.append(f"{pad * 2}{yaml_quote(model_id)}:")
        lines.extend(f"{pad * 3}{key}: {yaml_quote(value)}" for key, value in meta.items())
    return lines


def hermes_read_model(doc: YAMLDocument) -> tuple[str | None, str | None]:
    """(provider, default) of the top-level `model` setting; a plain string is a default model."""
    found = doc.top_block("model")
    if found is None:
        return None, None
    start, end, rest = found
    if not _is_empty_inline(rest):
        if _without_comment(rest).startswith(("{", "[", "|", ">", "&", "*", "!")):
            raise YAMLEditError("model: is not written as a plain value or a block mapping")
        return None, yaml_scalar(rest)
    _, rows = doc.children(start, end)
    values = {key: yaml_scalar(inline) for key, _, _, inline in rows}
    return values.get("provider"), values.get("default") or values.get("model")


def hermes_merge(text: str, entry: dict, take_model: bool, base_url: str) -> str:
    """config.yaml with providers.ethergate replaced, model pointed at it when allowed, and old
    EtherGate custom_providers entries removed; every other line is left as it was."""
    doc = YAMLDocument(text)
    _drop_custom_providers(doc, base_url)
    found = doc.top_block("providers")
    if found is None:
        _append_block(doc, "providers", ["  " + line for line in hermes_provider_lines(entry, 2)])
    elif _is_empty_inline(found[2]):
        start, end, _ = found
        unit, rows = doc.children(start, end)
        block = [" " * unit + line for line in hermes_provider_lines(entry, unit)]
        mine = [row for row in rows if row[0] == PROVIDER_ID]
        if mine:
            doc.lines[mine[0][1]:mine[0][2]] = block
        else:
            at = rows[-1][2] if rows else start + 1
            doc.lines[at:at] = block
        doc.lines[start] = "providers:"
    else:
        raise YAMLEditError("providers: is written in flow style")
    if take_model:
        _set_model(doc, entry["default_model"])
    return doc.text()


def _append_block(doc: YAMLDocument, key: str, body: list[str]) -> None:
    if doc.lines and doc.lines[-1].strip():
        doc.lines.append("")
    doc.lines.append(f"{key}:")
    doc.lines.extend(body)


def _drop_custom_providers(doc: YAMLDocument, base_url: str) -> None:
    found = doc.top_block("custom_providers")
    if found is None or not _is_empty_inline(found[2]):
        return
    start, end, _ = found
    items = doc.sequence_items(start, end)
    doomed = [item for item in items if _is_ethergate_custom(doc.item_scalars(*item), base_url)]
    for first, stop in reversed(doomed):
        del doc.lines[first:stop]
    if doomed and len(doomed) == len(items):
        doc.lines[start] = "custom_providers: []"


def _is_ethergate_custom(values: dict, base_url: str) -> bool:
    name = str(values.get("name") or "").strip().lower()
    url = str(values.get("base_url") or values.get("url") or values.get("api") or "").strip().rstrip("/")
    return name in (PROVIDER_ID, "custom:" + PROVIDER_ID) or (bool(url) and url.startswith(base_url.rstrip("/")))


def _set_model(doc: YAMLDocument, default_model: str) -> None:
    wanted = {"provider": PROVIDER_ID, "default": default_model}
    found = doc.top_block("model")
    if found is None:
        _append_block(doc, "model", [f"  {key}: {yaml_quote(value)}" for key, value in wanted.items()])
        return
    start, end, _ = found
    if not any(_is_content(line) for line in doc.lines[start + 1:end]):
        doc.lines[start:end] = ["model:"] + [f"  {key}: {yaml_quote(value)}" for key, value in wanted.items()]
        return
    unit, rows = doc.children(start, end)
    present = {key: (first, stop) for key, first, stop, _ in rows}
    at = rows[-1][2]
    # Insert after every row first, then replace bottom-up, so no index moves under another.
    doc.lines[at:at] = [f"{' ' * unit}{key}: {yaml_quote(value)}" for key, value in wanted.items() if key not in present]
    for key, (first, stop) in sorted(present.items(), key=lambda item: -item[1][0]):
        if key in wanted:
            doc.lines[first:stop] = [f"{' ' * unit}{key}: {yaml_quote(wanted[key])}"]


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


def dotenv_read(text: str) -> str | None:
    for line in text.splitlines():
        match = re.match(r"^\s*(?:export\s+)?" + KEY_ENV + r"\s*=\s*(.*)$", line)
        if match:
            value = match.group(1).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            return value or None
    return None


# The catalog --------------------------------------------------------------------------------

def fetch_models(base_url: str, api_key: str, locale: str) -> list[dict]:
    url = base_url.rstrip("/") + "/v1/models"
    print(say(locale, "checking", url=url))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}",
                                                   "Accept": "application/json",
                                                   "User-Agent": "ethergate-provider-installer"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise Abort(EXIT_KEY, "rejected") from None
        detail = _error_detail(error)
        raise Abort(EXIT_SERVER, "server_error", status=error.code, url=url, detail=detail) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise Abort(EXIT_SERVER, "unreachable", url=url, detail=getattr(error, "reason", error)) from None
    models = [m for m in body.get("data") or [] if isinstance(m, dict) and m.get("id") and m.get("ready", True)]
    if not models:
        raise Abort(EXIT_KEY, "no_models")
    return models


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(error.read().decode("utf-8"))
        return str(payload["error"]["message"])
    except Exception:
        return error.reason or "error"


def choose_model(models: list[dict], requested: str | None, current: str | None, locale: str) -> str:
    ids = [m["id"] for m in models]
    if requested:
        for model in models:
            if requested == model["id"] or requested in (model.get("aliases") or []):
                return model["id"]
        raise Abort(EXIT_USAGE, "unknown_model", model=requested, available=", ".join(ids))
    if current in ids:
        return current
    return next((m for m in PREFERRED_MODELS if m in ids), ids[0])


def _price(pricing: dict, field: str) -> float | int:
    try:
        value = float(pricing.get(field) or 0)
    except (TypeError, ValueError):
        return 0
    return int(value) if value.is_integer() else value


def openclaw_model(model: dict) -> dict:
    pricing = model.get("pricing") or {}
    capabilities = set(model.get("capabilities") or ())
    cached = pricing.get("cached_input")
    return {
        "id": model["id"],
        "name": model.get("name") or model["id"],
        "reasoning": "reasoning" in capabilities,
        "input": ["text", "image"] if "vision" in capabilities else ["text"],
        # Prices are per million tokens in the instance's currency; a cache write costs what
        # plain input does upstream, so that is what it is priced at.
        "cost": {"input": _price(pricing, "input"), "output": _price(pricing, "output"),
                 "cacheRead": _price(pricing, "cached_input" if cached else "input"),
                 "cacheWrite": _price(pricing, "input")},
        "contextWindow": int(model.get("context_length") or 0) or 128000,
        "maxTokens": int(model.get("max_output_tokens") or 0) or 8192,
    }


def openclaw_provider(base_url: str, api_key: str, models: list[dict]) -> dict:
    return {"baseUrl": base_url.rstrip("/") + "/v1", "apiKey": api_key, "api": "openai-completions",
            "models": [openclaw_model(m) for m in models]}


def hermes_provider(base_url: str, models: list[dict], default_model: str) -> dict:
    return {"name": "EtherGate", "api": base_url.rstrip("/") + "/v1", "key_env": KEY_ENV,
            "transport": "chat_completions", "default_model": default_model,
            "models": {m["id"]: {"context_length": int(m.get("context_length") or 0) or 128000} for m in models}}


# Where each tool keeps its files ---------------------------------------------------------------

class Layout:
    def __init__(self, target: str, home: Path, config: Path, skills: Path | None = None):
        self.target, self.home, self.config = target, home, config
        self.skills = skills or home / "skills"

    @property
    def skill_dir(self) -> Path:
        return self.skills / SKILL_NAME

    @property
    def key_file(self) -> Path:
        """Where the key is stored: the tool's .env where it reads one, else its config."""
        return self.home / ".env" if self.target in ("hermes", "qwen-code", "codex") else self.config


def resolve_layout(target: str, home: str | None, env: dict) -> Layout:
    if target in AGENT_CLI_TARGETS:
        return agent_cli_layout(target, home, env)
    if target == "qwen-code":
        root = Path(home).expanduser() if home else Path.home() / ".qwen"
        return Layout(target, root, root / "settings.json")
    if target == "opencode":
        if home:
            root = Path(home).expanduser()
            return Layout(target, root, root / "opencode.json")
        config_raw = env.get("OPENCODE_CONFIG", "").strip()
        xdg = env.get("XDG_CONFIG_HOME", "").strip()
        root = (Path(xdg).expanduser() if xdg else Path.home() / ".config") / "opencode"
        return Layout(target, root, Path(config_raw).expanduser() if config_raw else root / "opencode.json")
    if target == "aider":
        root = Path(home).expanduser() if home else Path.home()
        return Layout(target, root, root / ".aider.conf.yml", skills=root / ".aider" / "skills")
    if target == "hermes":
        if home:
            root = Path(home).expanduser()
        elif env.get("HERMES_HOME", "").strip():
            root = Path(env["HERMES_HOME"].strip()).expanduser()
        elif sys.platform == "win32":
            local = env.get("LOCALAPPDATA", "").strip()
            root = (Path(local) if local else Path.home() / "AppData" / "Local") / "hermes"
        else:
            root = Path.home() / ".hermes"
        return Layout(target, root, root / "config.yaml")
    if home:
        root = Path(home).expanduser()
        return Layout(target, root, root / "openclaw.json")
    if target == "qclaw":
        meta = _qclaw_meta()
        state = Path(meta["stateDir"]).expanduser() if meta.get("stateDir") else Path.home() / ".qclaw"
        config = Path(meta["configPath"]).expanduser() if meta.get("configPath") else state / "openclaw.json"
        return Layout(target, state, config)
    state_raw = env.get("OPENCLAW_STATE_DIR", "").strip()
    state = Path(state_raw).expanduser() if state_raw else Path.home() / ".openclaw"
    config_raw = env.get("OPENCLAW_CONFIG_PATH", "").strip()
    return Layout(target, state, Path(config_raw).expanduser() if config_raw else state / "openclaw.json")


def _qclaw_meta() -> dict:
    try:
        meta = json.loads((Path.home() / ".qclaw" / "qclaw.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in meta.items() if k in ("stateDir", "configPath") and isinstance(v, str) and v} \
        if isinstance(meta, dict) else {}


# Planning: every new file content is computed before anything is written ------------------------

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


def _parse_json5_file(path: Path, text: str) -> tuple[dict, bool]:
    try:
        value, comments = json5_loads(text) if text.strip() else ({}, False)
    except JSON5Error as error:
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail=error) from None
    if not isinstance(value, dict):
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail="the top level is not an object")
    return value, comments


def _child(parent: dict, key: str, path: Path, where: str) -> dict:
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    if not isinstance(value, dict):
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail=f"{where} is not an object")
    if "$include" in value:
        raise Abort(EXIT_CONFIG, "include", path=path, where=where)
    return value


def stored_key(layout: Layout) -> str | None:
    if layout.target in AGENT_CLI_TARGETS:
        return agent_cli_stored_key(layout)
    if layout.target in ("hermes", "qwen-code"):
        text = read_text(layout.home / ".env")
        return dotenv_read(text) if text else None
    if layout.target == "aider":
        key = flat_yaml_read(read_text(layout.config) or "", "openai-api-key")
        return key if isinstance(key, str) and key else None
    if layout.target == "opencode":
        text = read_text(layout.config)
        config, _ = _parse_json5_file(layout.config, text) if text else ({}, False)
        provider = (config.get("provider") or {}).get(PROVIDER_ID) if isinstance(config.get("provider"), dict) else None
        key = (provider.get("options") or {}).get("apiKey") if isinstance(provider, dict) else None
        return key if isinstance(key, str) and key and not key.startswith("{") else None
    text = read_text(layout.config)
    if not text:
        return None
    config, _ = _parse_json5_file(layout.config, text)
    provider = ((config.get("models") or {}).get("providers") or {}).get(PROVIDER_ID)
    key = provider.get("apiKey") if isinstance(provider, dict) else None
    return key if isinstance(key, str) and key and not key.startswith("${") else None


def current_default(layout: Layout) -> str | None:
    """The EtherGate model the tool defaults to now, kept on a refresh unless --model says otherwise."""
    if layout.target in AGENT_CLI_TARGETS:
        return agent_cli_default(layout)
    text = read_text(layout.config)
    if not text:
        return None
    if layout.target in ("qwen-code", "opencode", "aider"):
        return _own_default(layout, text)
    if layout.target == "hermes":
        try:
            provider, default = hermes_read_model(YAMLDocument(text))
        except YAMLEditError:
            return None
        return default if str(provider or "").lower() in (PROVIDER_ID, "custom:" + PROVIDER_ID) else None
    config, _ = _parse_json5_file(layout.config, text)
    model = ((config.get("agents") or {}).get("defaults") or {}).get("model")
    primary = model.get("primary") if isinstance(model, dict) else model
    prefix = PROVIDER_ID + "/"
    return primary[len(prefix):] if isinstance(primary, str) and primary.startswith(prefix) else None


def plan_openclaw(layout: Layout, base_url: str, api_key: str, models: list[dict], default_model: str) -> tuple[list[Change], str | None]:
    provider = openclaw_provider(base_url, api_key, models)
    old = read_text(layout.config) or ""
    config, comments = _parse_json5_file(layout.config, old)
    if "$include" in config:
        raise Abort(EXIT_CONFIG, "include", path=layout.config, where="the top level")
    providers = _child(_child(config, "models", layout.config, "models"), "providers", layout.config, "models.providers")
    providers[PROVIDER_ID] = provider

    defaults = _child(_child(config, "agents", layout.config, "agents"), "defaults", layout.config, "agents.defaults")
    prefix = PROVIDER_ID + "/"
    wanted = prefix + default_model
    model = defaults.get("model")
    kept = None
    if model is None or model == "" or model == {}:
        defaults["model"] = {"primary": wanted}
    elif isinstance(model, str):
        if model.startswith(prefix):
            defaults["model"] = wanted
        else:
            kept = model
    elif isinstance(model, dict):
        primary = model.get("primary")
        if not primary or (isinstance(primary, str) and primary.startswith(prefix)):
            model["primary"] = wanted
        else:
            kept = primary
    allow = defaults.get("models")
    if isinstance(allow, dict):
        ours = {prefix + m["id"] for m in models}
        for name in [n for n in allow if n.startswith(prefix) and n not in ours and n != prefix + "*"]:
            del allow[name]
        for name in sorted(ours - set(allow)):
            allow[name] = {}

    new = json_text(config)
    changes = [Change(layout.config, new, secret=True, comments_lost=comments)] if new != old else []
    changes.extend(_openclaw_caches(layout, provider))
    return changes, kept


def _openclaw_caches(layout: Layout, provider: dict) -> list[Change]:
    changes = []
    agents = layout.home / "agents"
    for cache in sorted(agents.glob("*/agent/models.json")) if agents.is_dir() else []:
        old = read_text(cache) or ""
        data, _ = _parse_json5_file(cache, old)
        providers = data.get("providers")
        if not isinstance(providers, dict) or PROVIDER_ID not in providers:
            continue
        providers[PROVIDER_ID] = provider
        new = json_text(data)
        if new != old:
            changes.append(Change(cache, new, secret=True))
    return changes


def plan_hermes(layout: Layout, base_url: str, api_key: str, models: list[dict], default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    entry = hermes_provider(base_url, models, default_model)
    try:
        provider, default = hermes_read_model(YAMLDocument(old))
        taken = str(provider or "").strip().lower() in (PROVIDER_ID, "custom:" + PROVIDER_ID)
        unset = not default and str(provider or "").strip().lower() in ("", "auto")
        new = hermes_merge(old, entry, taken or unset, base_url)
    except YAMLEditError as error:
        raise Abort(EXIT_CONFIG, "parse_error", path=layout.config, detail=error) from None
    _verify_yaml(layout.config, old, new, entry, taken or unset, base_url)
    changes = [Change(layout.config, new)] if new != old else []
    env_path = layout.home / ".env"
    env_old = read_text(env_path) or ""
    env_new = dotenv_merge(env_old, api_key)
    if env_new != env_old:
        changes.append(Change(env_path, env_new, secret=True))
    kept = None if (taken or unset) else f"{provider}/{default}" if provider and default else (default or provider)
    return changes, kept


def _verify_yaml(path: Path, old: str, new: str, entry: dict, took_model: bool, base_url: str) -> None:
    """Where PyYAML is at hand (Hermes' own interpreter has it), prove the edit changed only
    EtherGate's settings; the edit itself never depends on it, so every machine writes the same."""
    try:
        import yaml
    except ImportError:
        return
    try:
        before, after = yaml.safe_load(old) or {}, yaml.safe_load(new) or {}
    except yaml.YAMLError as error:
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail=str(error).splitlines()[0]) from None
    expected = dict(before) if isinstance(before, dict) else {}
    providers = dict(expected.get("providers") or {})
    providers[PROVIDER_ID] = entry
    expected["providers"] = providers
    customs = expected.get("custom_providers")
    if isinstance(customs, list):
        expected["custom_providers"] = [c for c in customs if not (isinstance(c, dict) and _is_ethergate_custom(c, base_url))]
    if took_model:
        model = expected.get("model")
        model = dict(model) if isinstance(model, dict) else {}
        model.update(provider=PROVIDER_ID, default=entry["default_model"])
        expected["model"] = model
    if _normalized(after) != _normalized(expected):
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail="the edit could not be verified")


def _normalized(value):
    if isinstance(value, dict):
        return {str(k): _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def plan_skill(layout: Layout, base_url: str, locale: str, shell: str, home_arg: str | None, python: str) -> list[Change]:
    engine = Path(__file__).read_text(encoding="utf-8")
    script = "refresh-models.ps1" if shell == "ps1" else "refresh-models.sh"
    files = {
        layout.skill_dir / "ethergate_provider.py": (engine, False),
        layout.skill_dir / script: (refresh_script(shell, layout.target, base_url, locale, home_arg, python), shell != "ps1"),
        layout.skill_dir / "SKILL.md": (skill_markdown(layout, script, shell), False),
    }
    return [Change(path, text, executable=executable) for path, (text, executable) in files.items()
            if read_text(path) != text]


def refresh_script(shell: str, target: str, base_url: str, locale: str, home_arg: str | None, python: str) -> str:
    home_dir = str(Path(home_arg).expanduser().resolve()) if home_arg else None
    if shell == "ps1":
        return (
            "# Refreshes EtherGate models with the key already stored in the tool's config; the key is never printed.\n"
            "param([string]$Model = '', [switch]$DryRun)\n"
            "$engine = Join-Path $PSScriptRoot 'ethergate_provider.py'\n"
            f"$python = @($env:ETHERGATE_PYTHON, {_ps_quote(python)}, 'py', 'python', 'python3') | Where-Object {{ $_ -and (Get-Command $_ -ErrorAction SilentlyContinue) }} | Select-Object -First 1\n"
            "if (-not $python) { Write-Error 'Python 3 is required to refresh EtherGate models.'; return }\n"
            f"$arguments = @($engine, '--base-url', {_ps_quote(base_url)}, '--target', '{target}', '--locale', '{locale}', '--shell', 'ps1')\n"
            + (f"$arguments += @('--home', {_ps_quote(home_dir)})\n" if home_dir else "")
            + "if ($Model) { $arguments += @('--model', $Model) }\n"
            "if ($DryRun) { $arguments += '--dry-run' }\n"
            "if ($python -eq 'py') { $arguments = @('-3') + $arguments }\n"
            "& $python @arguments\n"
        )
    home = f" --home {_sh_quote(home_dir)}" if home_dir else ""
    return (
        "#!/bin/sh\n"
        "# Refreshes EtherGate models with the key already stored in the tool's config; the key is never printed.\n"
        "here=$(CDPATH= cd -- \"$(dirname -- \"$0\")\" && pwd)\n"
        f"for python in \"${{ETHERGATE_PYTHON:-}}\" {_sh_quote(python)} python3 python; do\n"
        "  if [ -n \"$python\" ] && command -v \"$python\" >/dev/null 2>&1; then\n"
        f"    exec \"$python\" \"$here/ethergate_provider.py\" --base-url {_sh_quote(base_url)} --target {target} --locale {locale}{home} \"$@\"\n"
        "  fi\n"
        "done\n"
        "echo 'Python 3 is required to refresh EtherGate models.' >&2\n"
        "exit 1\n"
    )


def skill_markdown(layout: Layout, script: str, shell: str) -> str:
    tool = TOOL_NAMES[layout.target]
    run = (f"powershell -ExecutionPolicy Bypass -File \"{layout.skill_dir / script}\"" if shell == "ps1"
           else f"sh \"{layout.skill_dir / script}\"")
    model_flag, dry_flag = ("-Model", "-DryRun") if shell == "ps1" else ("--model", "--dry-run")
    return f"""---
name: {SKILL_NAME}
description: Refresh the EtherGate model list and default model in {tool}'s config using the stored EtherGate key.
---

# EtherGate provider

EtherGate is an OpenAI-compatible gateway configured in {tool} as the provider `{PROVIDER_ID}`.
Use this skill when the user asks to refresh, update or list EtherGate models, or to switch the
default EtherGate model.

## Refresh models

Run:

```
{run}
```

It checks the stored key against EtherGate, fetches the current model list and rewrites only
EtherGate's part of the config, keeping a backup of every file it changes. To also switch the
default model, add `{model_flag} <model-id>` (for example `{model_flag} qwen/qwen-plus`). To
preview without writing, add `{dry_flag}`.

Then tell the user to restart {tool} (or start a new session) so the new models load.

## Rules

- Never print, echo, log or repeat the EtherGate API key; the script reads it from the config itself.
- To rotate the key, the user reruns the installer command from the EtherGate console in a
  system terminal; do not ask them to paste a key into the chat.
- If the script reports that the key was rejected (401), tell the user to create a new key in
  the EtherGate console and rerun the installer.
"""


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _ps_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Writing ------------------------------------------------------------------------------------

def check_writable(changes: list[Change]) -> None:
    for change in changes:
        directory = _existing_parent(change.path)
        if (change.path.exists() and not os.access(change.path, os.W_OK)) or not os.access(directory, os.W_OK):
            raise Abort(EXIT_HOME, "not_writable", path=change.path if change.path.exists() else directory)


def _existing_parent(path: Path) -> Path:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def apply(changes: list[Change], stamp: str, locale: str) -> None:
    done: list[tuple[Change, bytes | None, int | None]] = []
    for change in changes:
        try:
            old = change.path.read_bytes() if change.path.exists() else None
            mode = stat.S_IMODE(change.path.stat().st_mode) if old is not None else None
            change.path.parent.mkdir(parents=True, exist_ok=True)
            if old is not None:
                change.backup = _backup(change.path, old, 0o600 if change.secret else mode, stamp)
            target_mode = 0o600 if change.secret else (mode if mode is not None else (0o755 if change.executable else 0o644))
            atomic_write(change.path, change.text.encode("utf-8"), target_mode)
            done.append((change, old, mode))
        except OSError as error:
            for written, previous, previous_mode in reversed(done):
                if previous is None:
                    written.path.unlink(missing_ok=True)
                else:
                    atomic_write(written.path, previous, previous_mode or 0o600)
                if written.backup:
                    written.backup.unlink(missing_ok=True)
            raise Abort(EXIT_HOME, "write_failed", path=change.path, detail=error.strerror or error) from None


def _backup(path: Path, content: bytes, mode: int | None, stamp: str) -> Path:
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    counter = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.bak-{stamp}-{counter}")
        counter += 1
    atomic_write(backup, content, mode if mode is not None else 0o600)
    return backup


def atomic_write(path: Path, content: bytes, mode: int) -> None:
    handle, temporary = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


# Qwen Code, opencode and aider -----------------------------------------------------------------

def _own_default(layout: Layout, text: str) -> str | None:
    if layout.target == "aider":
        model = flat_yaml_read(text, "model")
        return model[len("openai/"):] if isinstance(model, str) and model.startswith("openai/") else None
    config, _ = _parse_json5_file(layout.config, text)
    if layout.target == "qwen-code":
        model = (config.get("model") or {}).get("name") if isinstance(config.get("model"), dict) else None
        ours = {m.get("id") for m in (config.get("modelProviders") or {}).get(PROVIDER_ID) or [] if isinstance(m, dict)}
        return model if model in ours else None
    model, prefix = config.get("model"), PROVIDER_ID + "/"
    return model[len(prefix):] if isinstance(model, str) and model.startswith(prefix) else None


def _limits(model: dict) -> tuple[int, int]:
    return int(model.get("context_length") or 0) or 128000, int(model.get("max_output_tokens") or 0) or 8192


def qwen_code_model(base_url: str, model: dict) -> dict:
    context, output = _limits(model)
    return {"id": model["id"], "name": f"{model.get('name') or model['id']} (EtherGate)",
            "baseUrl": base_url.rstrip("/") + "/v1", "envKey": KEY_ENV,
            "generationConfig": {"contextWindowSize": context, "samplingParams": {"max_tokens": min(output, 32000)}}}


def plan_qwen_code(layout: Layout, base_url: str, api_key: str, models: list[dict], default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    config, comments = _parse_json5_file(layout.config, old)
    providers = _child(config, "modelProviders", layout.config, "modelProviders")
    providers[PROVIDER_ID] = [qwen_code_model(base_url, m) for m in models]
    _child(config, "providerProtocol", layout.config, "providerProtocol")[PROVIDER_ID] = "openai"
    model = _child(config, "model", layout.config, "model")
    auth = _child(_child(config, "security", layout.config, "security"), "auth", layout.config, "security.auth")
    kept = None
    current = model.get("name")
    if not current or current in {m["id"] for m in models}:
        model["name"] = default_model
        auth["selectedType"] = "openai"
    else:
        kept = current
    # Usage statistics and managed memory phone home; EtherGate's config turns them off.
    _child(config, "privacy", layout.config, "privacy")["usageStatisticsEnabled"] = False
    _child(config, "memory", layout.config, "memory")["enableManagedAutoMemory"] = False
    new = json_text(config)
    changes = [Change(layout.config, new, comments_lost=comments)] if new != old else []
    env_path = layout.home / ".env"
    env_old = read_text(env_path) or ""
    env_new = dotenv_merge(env_old, api_key)
    if env_new != env_old:
        changes.append(Change(env_path, env_new, secret=True))
    return changes, kept


def opencode_model(model: dict) -> dict:
    context, output = _limits(model)
    capabilities = set(model.get("capabilities") or ())
    return {"name": model.get("name") or model["id"], "limit": {"context": context, "output": output},
            "reasoning": "reasoning" in capabilities, "tool_call": "tools" in capabilities,
            "attachment": "vision" in capabilities}


def plan_opencode(layout: Layout, base_url: str, api_key: str, models: list[dict], default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    config, comments = _parse_json5_file(layout.config, old)
    config.setdefault("$schema", "https://opencode.ai/config.json")
    providers = _child(config, "provider", layout.config, "provider")
    providers[PROVIDER_ID] = {"npm": "@ai-sdk/openai-compatible", "name": "EtherGate",
                              "options": {"baseURL": base_url.rstrip("/") + "/v1", "apiKey": api_key},
                              "models": {m["id"]: opencode_model(m) for m in models}}
    prefix, ids = PROVIDER_ID + "/", [m["id"] for m in models]
    kept = None
    current = config.get("model")
    if not current or (isinstance(current, str) and current.startswith(prefix)):
        config["model"] = prefix + default_model
    else:
        kept = current
    small = config.get("small_model")
    if not small or (isinstance(small, str) and small.startswith(prefix)):
        config["small_model"] = prefix + next((m for m in SMALL_MODELS if m in ids), default_model)
    config["autoupdate"] = False
    config["share"] = "disabled"
    new = json_text(config)
    return ([Change(layout.config, new, secret=True, comments_lost=comments)] if new != old else []), kept


AIDER_KEYS = ("model", "openai-api-base", "openai-api-key", "check-update", "analytics-disable")


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


def aider_metadata(model: dict) -> dict:
    context, output = _limits(model)
    pricing = model.get("pricing") or {}
    return {"max_input_tokens": context, "max_output_tokens": output, "max_tokens": output,
            "input_cost_per_token": _price(pricing, "input") / 1_000_000,
            "output_cost_per_token": _price(pricing, "output") / 1_000_000,
            "litellm_provider": "openai", "mode": "chat",
            "supports_function_calling": "tools" in (model.get("capabilities") or ())}


def plan_aider(layout: Layout, base_url: str, api_key: str, models: list[dict], default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    current = flat_yaml_read(old, "model")
    ours = {"openai/" + m["id"] for m in models}
    kept = current if current and current not in ours else None
    values = {"openai-api-base": base_url.rstrip("/") + "/v1", "openai-api-key": api_key,
              "check-update": False, "analytics-disable": True}
    if kept is None:
        values = {"model": "openai/" + default_model, **values}
    new = flat_yaml_merge(old, values)
    changes = [Change(layout.config, new, secret=True)] if new != old else []
    meta_path = layout.home / ".aider.model.metadata.json"
    meta_old = read_text(meta_path) or ""
    meta, _ = _parse_json5_file(meta_path, meta_old)
    meta.update({"openai/" + m["id"]: aider_metadata(m) for m in models})
    meta_new = json_text(meta)
    if meta_new != meta_old:
        changes.append(Change(meta_path, meta_new))
    return changes, kept



# Claude Code and Codex: agent CLIs that speak the Messages and Responses surfaces ----------------
#
# - Claude Code: $CLAUDE_CONFIG_DIR, else ~/.claude. settings.json's `env` block sets the variables it
#   reads at start (ANTHROPIC_BASE_URL is the server root: it appends /v1/messages itself); the
#   onboarding flag lives in ~/.claude.json (in the config dir when CLAUDE_CONFIG_DIR is set).
# - Codex: $CODEX_HOME, else ~/.codex. config.toml names a model provider whose key is read from the
#   environment variable `env_key`; Codex loads <home>/.env into its environment at start.

AGENT_CLI_TARGETS = ("claude-code", "codex")


def agent_cli_layout(target: str, home: str | None, env: dict) -> Layout:
    variable = "CLAUDE_CONFIG_DIR" if target == "claude-code" else "CODEX_HOME"
    chosen = home or env.get(variable, "").strip()
    root = Path(chosen).expanduser() if chosen else Path.home() / (".claude" if target == "claude-code" else ".codex")
    layout = Layout(target, root, root / ("settings.json" if target == "claude-code" else "config.toml"))
    layout.onboarding = root / ".claude.json" if chosen else Path.home() / ".claude.json"
    return layout


def agent_cli_stored_key(layout: Layout) -> str | None:
    if layout.target == "codex":
        text = read_text(layout.home / ".env")
        return dotenv_read(text) if text else None
    text = read_text(layout.config)
    settings = _parse_json5_file(layout.config, text)[0] if text else {}
    key = (settings.get("env") or {}).get("ANTHROPIC_AUTH_TOKEN") if isinstance(settings.get("env"), dict) else None
    return key if isinstance(key, str) and key else None


def agent_cli_default(layout: Layout) -> str | None:
    text = read_text(layout.config)
    if not text:
        return None
    if layout.target == "codex":
        table = toml_table(layout.config, text)
        return table.get("model") if table.get("model_provider") == PROVIDER_ID else None
    settings = _parse_json5_file(layout.config, text)[0]
    env = settings.get("env") if isinstance(settings.get("env"), dict) else {}
    model = env.get("ANTHROPIC_MODEL")
    return model if isinstance(model, str) and env.get("ANTHROPIC_AUTH_TOKEN") else None


def _context_tokens(models: list[dict], model_id: str) -> int:
    model = next((m for m in models if m["id"] == model_id), {})
    return int(model.get("context_length") or 0) or 128000


def plan_claude_code(layout: Layout, base_url: str, api_key: str, models: list[dict],
                     default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    settings, comments = _parse_json5_file(layout.config, old)
    env = _child(settings, "env", layout.config, "env")
    ids = [m["id"] for m in models]
    env.update({
        "ANTHROPIC_BASE_URL": base_url.rstrip("/"),
        "ANTHROPIC_AUTH_TOKEN": api_key,
        "ANTHROPIC_MODEL": default_model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": next((m for m in SMALL_MODELS if m in ids), default_model),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_CONTEXT_TOKENS": str(_context_tokens(models, default_model)),
    })
    # An Anthropic API key here would be sent instead of the EtherGate key.
    env.pop("ANTHROPIC_API_KEY", None)
    new = json_text(settings)
    changes = [Change(layout.config, new, secret=True, comments_lost=comments)] if new != old else []
    state_old = read_text(layout.onboarding) or ""
    state, _ = _parse_json5_file(layout.onboarding, state_old)
    if state.get("hasCompletedOnboarding") is not True:
        state["hasCompletedOnboarding"] = True  # else the first start asks for an Anthropic login
        changes.append(Change(layout.onboarding, json_text(state)))
    return changes, None


def toml_table(path: Path, text: str) -> dict:
    try:
        import tomllib
    except ImportError:  # Python < 3.11: the edit stays line-based and is not re-read
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail=error) from None


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def codex_merge(text: str, top: dict, provider: dict) -> str:
    """`text` with the top-level keys in `top` set, [model_providers.ethergate] replaced and analytics off.

    Line edits, so the user's comments and layout survive; other tables are left as they are."""
    lines = text.splitlines()
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in lines:
        header = _TOML_HEADER.match(line)
        if header:
            sections.append((header.group(1).replace(" ", ""), [line]))
        else:
            sections[-1][1].append(line)
    ours = f"model_providers.{PROVIDER_ID}"
    out: list[str] = []
    analytics = False
    for name, body in sections:
        if name == ours:
            continue
        if name is None:
            kept = [line for line in body if not ((m := _TOML_KEY.match(line)) and m.group(1) in top)]
            while kept and not kept[-1].strip():
                kept.pop()
            out.extend(kept + [f"{key} = {value}" for key, value in top.items()] + [""])
            continue
        if name == "analytics":
            analytics = True
            body = [body[0], "enabled = false"] + [line for line in body[1:]
                                                    if not ((m := _TOML_KEY.match(line)) and m.group(1) == "enabled")]
        out.extend(body)
    while out and not out[-1].strip():
        out.pop()
    if not analytics:
        out += ["", "[analytics]", "enabled = false"]
    out += ["", f"[{ours}]"] + [f"{key} = {value}" for key, value in provider.items()]
    return "\n".join(out).lstrip("\n") + "\n"


def plan_codex(layout: Layout, base_url: str, api_key: str, models: list[dict],
               default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    toml_table(layout.config, old)
    top = {"model_provider": toml_string(PROVIDER_ID), "model": toml_string(default_model),
           "model_context_window": str(_context_tokens(models, default_model))}
    provider = {"name": toml_string("EtherGate"), "base_url": toml_string(base_url.rstrip("/") + "/v1"),
                "env_key": toml_string(KEY_ENV), "wire_api": toml_string("responses")}
    new = codex_merge(old, top, provider)
    merged = toml_table(layout.config, new)
    if merged and (merged.get("model_provider") != PROVIDER_ID or merged.get("model") != default_model
                   or (merged.get("model_providers") or {}).get(PROVIDER_ID, {}).get("env_key") != KEY_ENV
                   or (merged.get("analytics") or {}).get("enabled") is not False):
        raise Abort(EXIT_CONFIG, "parse_error", path=layout.config, detail="the edit could not be verified")
    changes = [Change(layout.config, new)] if new != old else []
    env_path = layout.home / ".env"
    env_old = read_text(env_path) or ""
    env_new = dotenv_merge(env_old, api_key)
    if env_new != env_old:
        changes.append(Change(env_path, env_new, secret=True))
    return changes, None


MODEL_PREFIX = {"qclaw": PROVIDER_ID + "/", "openclaw": PROVIDER_ID + "/", "opencode": PROVIDER_ID + "/",
                "aider": "openai/"}
PLANNERS = {"hermes": plan_hermes, "qwen-code": plan_qwen_code, "opencode": plan_opencode, "aider": plan_aider,
            "claude-code": plan_claude_code, "codex": plan_codex}


# The command --------------------------------------------------------------------------------

def build_parser(locale: str) -> argparse.ArgumentParser:
    zh = locale == "zh"
    parser = argparse.ArgumentParser(
        prog="install.sh",
        description=("为 QClaw、OpenClaw、Hermes、Qwen Code、opencode、aider、Claude Code 或 Codex 配置 EtherGate 提供方和 EtherGate 技能。需要 Python 3。"
                     if zh else "Configure EtherGate as a provider, plus the EtherGate skill, in QClaw, OpenClaw, Hermes, "
                                "Qwen Code, opencode, aider, Claude Code or Codex. Needs Python 3."),
        epilog=("重新运行即可轮换密钥或刷新模型：EtherGate 的配置会被替换，其他配置保持不变。"
                if zh else "Rerun it to rotate the key or refresh models: EtherGate's config is replaced, other config is preserved."))
    parser.add_argument("--target", required=True, help=" | ".join(TARGETS))
    parser.add_argument("--api-key", help="你的 EtherGate 密钥（cr_...）；省略时使用已保存的密钥" if zh
                        else "your EtherGate key (cr_...); omitted: the key already stored in the tool's config")
    parser.add_argument("--locale", default="en", help="en | zh")
    parser.add_argument("--home", help="工具的配置目录（非标准位置时使用）" if zh else "the tool's home directory, when it is not the standard one")
    parser.add_argument("--model", help="默认模型 ID" if zh else "the default model ID")
    parser.add_argument("--dry-run", action="store_true", help="只显示将要修改的内容，不写入" if zh else "print what would change; write nothing")
    parser.add_argument("--base-url", required=True, help=argparse.SUPPRESS)
    parser.add_argument("--shell", choices=("sh", "ps1"), default="sh", help=argparse.SUPPRESS)
    return parser


def _locale_from(argv: list[str]) -> str:
    for index, arg in enumerate(argv):
        if arg == "--locale" and index + 1 < len(argv):
            return argv[index + 1] if argv[index + 1] in MESSAGES else "en"
        if arg.startswith("--locale="):
            return arg.split("=", 1)[1] if arg.split("=", 1)[1] in MESSAGES else "en"
    return "en"


def run(argv: list[str], env: dict) -> int:
    locale = _locale_from(argv)
    args = build_parser(locale).parse_args(argv)
    try:
        if args.locale not in MESSAGES:
            raise Abort(EXIT_USAGE, "bad_locale", locale=args.locale)
        return install(args, env)
    except Abort as failure:
        print(say(locale, failure.key, **failure.fields), file=sys.stderr)
        return failure.code


def install(args, env: dict) -> int:
    locale = args.locale
    target = args.target.strip().lower()
    if target not in TARGETS:
        raise Abort(EXIT_USAGE, "unknown_target", target=args.target)
    if target in OPENCLAW_TARGETS:
        for var in ("OPENCLAW_CONFIG_READONLY", "OPENCLAW_NIX_MODE"):
            if env.get(var) == "1":
                raise Abort(EXIT_CONFIG, "readonly", var=var)
    layout = resolve_layout(target, args.home, env)
    tool = TOOL_NAMES[target]
    # Qwen Code and opencode make their config directory on first use (an explicit --home must exist); Claude Code
    # and Codex read their settings on first start, so their home may be created here.
    if not layout.home.is_dir() and target not in AGENT_CLI_TARGETS and (args.home or target not in ("qwen-code", "opencode")):
        raise Abort(EXIT_HOME, "missing_home", tool=tool, path=layout.home)
    api_key = (args.api_key or "").strip() or stored_key(layout)
    if not api_key:
        raise Abort(EXIT_USAGE, "no_key", path=layout.key_file)
    if not re.fullmatch(r"[A-Za-z0-9_\-.]{8,256}", api_key):
        raise Abort(EXIT_USAGE, "bad_key")
    # Check what can be checked before the network, so a bad home fails fast.
    check_writable([Change(layout.config, ""), Change(layout.skill_dir / "SKILL.md", "")])

    models = fetch_models(args.base_url, api_key, locale)
    print(say(locale, "accepted", count=len(models)))
    default_model = choose_model(models, args.model, current_default(layout), locale)
    planner = PLANNERS.get(target, plan_openclaw)
    changes, kept = planner(layout, args.base_url, api_key, models, default_model)
    changes += plan_skill(layout, args.base_url, locale, args.shell, args.home, sys.executable or "python3")
    check_writable(changes)

    print(say(locale, "default_kept", model=kept, tool=tool) if kept
          else say(locale, "default_set", model=MODEL_PREFIX.get(target, "") + default_model))
    if not changes:
        print(say(locale, "nothing"))
        return 0
    if args.dry_run:
        for change in changes:
            print(say(locale, "would_write", path=change.path))
        print(say(locale, "dry_run"))
        return 0
    apply(changes, time.strftime("%Y%m%d-%H%M%S"), locale)
    for change in changes:
        print(say(locale, "wrote", path=change.path))
        if change.backup:
            print(say(locale, "backup", path=change.backup))
        if change.comments_lost and change.backup:
            print(say(locale, "comments_lost", path=change.path, backup=change.backup))
    print(say(locale, f"restart_{target}", path=layout.home / ".env"))
    print(say(locale, "skill_hint"))
    return 0


if __name__ == "__main__":
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
        sys.stderr.reconfigure(encoding="utf-8", errors="replace")
    sys.exit(run(sys.argv[1:], dict(os.environ)))
