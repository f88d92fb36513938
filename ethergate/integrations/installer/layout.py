"""Where each tool keeps its home, its config and its skills."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .targets import AGENT_CLI_TARGETS, SKILL_NAME


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


def agent_cli_layout(target: str, home: str | None, env: dict) -> Layout:
    variable = "CLAUDE_CONFIG_DIR" if target == "claude-code" else "CODEX_HOME"
    chosen = home or env.get(variable, "").strip()
    root = Path(chosen).expanduser() if chosen else Path.home() / (".claude" if target == "claude-code" else ".codex")
    layout = Layout(target, root, root / ("settings.json" if target == "claude-code" else "config.toml"))
    layout.onboarding = root / ".claude.json" if chosen else Path.home() / ".claude.json"
    return layout
