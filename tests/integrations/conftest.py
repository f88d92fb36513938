"""Installer fixtures: a gateway whose console serves scripts pointing at it, tool homes, a runner."""
from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from ethergate.integrations.installer.assemble import assembled_source
from tests.integrations.tools import install_hermes

INSTALL_URL = "/console/skills/ethergate-provider/install"


@functools.cache
def engine_path() -> Path:
    """The assembled installer as the one file the scripts embed, written once per test process."""
    directory = tempfile.mkdtemp(prefix="ethergate-engine-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = Path(directory) / "ethergate_provider.py"
    path.write_text(assembled_source(), encoding="utf-8")
    return path


def load_engine():
    spec = importlib.util.spec_from_file_location("ethergate_provider_engine", engine_path())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def engine_module():
    return load_engine()


@dataclass
class Gateway:
    api: object          # the live server the scripts talk to
    console: object      # the server that serves the scripts; the same one, its public URL is its own address
    factories: object

    def new_key(self, workspace) -> str:
        return self.factories.key(workspace, rpm_limit=1000).plaintext

    def models(self, key: str) -> list[dict]:
        response = requests.get(self.api.base_url + "/models", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        response.raise_for_status()
        return response.json()["data"]


@pytest.fixture
def gateway(live_server, live_factories):
    return Gateway(live_server, live_server, live_factories)


@pytest.fixture
def tenant(gateway):
    return gateway.factories.tenant(credits="100.00", rpm_limit=1000)


class Installer:
    """The served install.sh, run for real with bash, HOME pointed at a scratch directory."""

    def __init__(self, gateway: Gateway, tmp_path: Path):
        self.gateway = gateway
        self.script = tmp_path / "install.sh"
        response = requests.get(gateway.console.url + INSTALL_URL + ".sh", timeout=10)
        response.raise_for_status()
        self.script.write_text(response.text)
        self.user_home = tmp_path / "user"
        self.user_home.mkdir()
        self.python = sys.executable

    def env(self, **extra) -> dict:
        env = {"PATH": os.environ["PATH"], "HOME": str(self.user_home), "LANG": "C.UTF-8",
               "ETHERGATE_PYTHON": self.python, "TMPDIR": os.environ.get("TMPDIR", "/tmp")}
        env.update({k: v for k, v in extra.items() if v is not None})
        return env

    def run(self, *args: str, prefix: tuple[str, ...] = (), **env) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, "bash", str(self.script), *args], env=self.env(**env),
                              capture_output=True, text=True, timeout=120)


@pytest.fixture
def installer(gateway, tmp_path):
    return Installer(gateway, tmp_path)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def backups(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.bak-*"))


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture(scope="session")
def tool_venv():
    """A venv holding hermes-agent (and so PyYAML), never the project's own venv."""
    return install_hermes()


def yaml_load(tool_venv: Path, path: Path):
    """Parse YAML with PyYAML from the throwaway venv (the project venv does not carry it)."""
    code = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))))"
    out = subprocess.run([str(tool_venv / "bin" / "python"), "-c", code, str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)
