"""Agent tool integrations: the one-line installer for QClaw, OpenClaw, Hermes, Qwen Code, opencode, aider,
Claude Code and Codex, and the EtherGate skill. The console serves the scripts (console/integrations.py)."""
from __future__ import annotations

TARGETS = (("qclaw", "QClaw"), ("openclaw", "OpenClaw"), ("hermes", "Hermes"), ("qwen-code", "Qwen Code"),
           ("opencode", "opencode"), ("aider", "aider"), ("claude-code", "Claude Code"), ("codex", "Codex"))
KEY_PLACEHOLDER = "<your-ethergate-key>"
INSTALL_PATH = "/console/skills/ethergate-provider/install"


def integration_commands(base_url: str, api_key: str | None = None, locale: str = "en") -> dict:
    """The copyable install commands for each tool, for the console's Integrations page."""
    base = base_url.rstrip("/")
    key = api_key or KEY_PLACEHOLDER
    sh_url, ps1_url = f"{base}{INSTALL_PATH}.sh", f"{base}{INSTALL_PATH}.ps1"
    tools = []
    for target, name in TARGETS:
        tools.append({
            "target": target,
            "name": name,
            "bash": (f"curl -fsSL {_sh(sh_url)} | bash -s -- --target {target} "
                     f"--api-key {_sh(key)} --locale {_sh(locale)}"),
            "powershell": (f"& ([scriptblock]::Create((irm {_ps(ps1_url)}))) -Target {target} "
                           f"-ApiKey {_ps(key)} -Locale {_ps(locale)}"),
        })
    return {"base_url": base, "api_base": base + "/v1", "install_sh": sh_url, "install_ps1": ps1_url,
            "tools": tools}


def _sh(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _ps(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"

