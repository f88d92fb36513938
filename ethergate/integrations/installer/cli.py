"""The command: parse the options, check the key, plan every file, then write them all or none."""
from __future__ import annotations

import argparse
import os
import re
import sys
import time

from .apply import apply, check_writable
from .catalog import choose_model, fetch_models
from .changes import Change
from .layout import resolve_layout
from .messages import MESSAGES, Abort, say
from .planners import MODEL_PREFIX, PLANNERS, current_default, stored_key
from .skill import plan_skill
from .targets import AGENT_CLI_TARGETS, EXIT_CONFIG, EXIT_HOME, EXIT_USAGE, OPENCLAW_TARGETS, TARGETS, TOOL_NAMES


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
    changes, kept = PLANNERS[target](layout, args.base_url, api_key, models, default_model)
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


def main() -> None:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
        sys.stderr.reconfigure(encoding="utf-8", errors="replace")
    sys.exit(run(sys.argv[1:], dict(os.environ)))


if __name__ == "__main__":
    main()
