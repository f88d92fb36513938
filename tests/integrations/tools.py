"""The real agent tools the tests drive, from the machine's cache (scripts/agent_tools.py, `make agent-tools`).

A tool missing from the cache is installed on first use; a registry that cannot be reached fails the test
that needs the tool, never skips it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _agent_tools():
    spec = importlib.util.spec_from_file_location("agent_tools", ROOT / "scripts" / "agent_tools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def agent_tool(name: str) -> Path:
    """The tool's directory in the machine's cache, installed now if missing."""
    agent_tools = _agent_tools()
    try:
        return agent_tools.install(name, retry_after=600)
    except agent_tools.ToolInstallError as exc:
        pytest.fail(f"agent tool not installed; `make agent-tools` installs it: {exc}", pytrace=False)


def install_hermes() -> Path:
    """The venv holding Hermes; its bin/ has `hermes` and a python with PyYAML."""
    return agent_tool("hermes") / "venv"


def install_aider() -> Path:
    """The venv holding aider (many dependencies, so never the project's venv)."""
    return agent_tool("aider") / "venv"


def install_qwen_code() -> Path:
    """node_modules with Qwen Code and a Node 24 binary."""
    return agent_tool("qwen-code")


def install_opencode() -> Path:
    """node_modules with opencode and its native binary for this platform."""
    return agent_tool("opencode")


def install_openclaw() -> Path:
    """node_modules with OpenClaw and the Node 26 binary it needs."""
    return agent_tool("openclaw")
