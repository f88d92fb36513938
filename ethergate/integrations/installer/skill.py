"""The EtherGate skill: SKILL.md, a refresh script for the user's shell and a copy of this program."""
from __future__ import annotations

from pathlib import Path

from .changes import Change, read_text
from .layout import Layout
from .targets import PROVIDER_ID, SKILL_NAME, TOOL_NAMES


def plan_skill(layout: Layout, base_url: str, locale: str, shell: str, home_arg: str | None, python: str) -> list[Change]:
    engine = engine_source()
    script = "refresh-models.ps1" if shell == "ps1" else "refresh-models.sh"
    files = {
        layout.skill_dir / "ethergate_provider.py": (engine, False),
        layout.skill_dir / script: (refresh_script(shell, layout.target, base_url, locale, home_arg, python), shell != "ps1"),
        layout.skill_dir / "SKILL.md": (skill_markdown(layout, script, shell), False),
    }
    return [Change(path, text, executable=executable) for path, (text, executable) in files.items()
            if read_text(path) != text]


def engine_source() -> str:
    """This program as the one file the skill keeps: itself when run as that file, else assembled from the package."""
    if __package__:
        import importlib
        return importlib.import_module(__package__ + ".assemble").assembled_source()
    return Path(__file__).read_text(encoding="utf-8")


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
