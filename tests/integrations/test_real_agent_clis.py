"""Claude Code (over /v1/messages) and Codex (over /v1/responses), configured by the served install.sh, answer a
prompt through EtherGate on one model of each provider: billed, and in the request log with their surface."""
import os
import platform
import subprocess

import pytest
from sqlalchemy import select

from tests.integrations.tools import agent_tool

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant and tool home

MODELS = {"deepseek": "deepseek/deepseek-v4-flash", "qwen": "qwen/qwen-plus", "moonshot": "moonshot/kimi-k2.6"}


def tool_env(installer) -> dict:
    """The user's environment without any provider key or tool home, so only the installed config counts."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_AUTH_TOKEN")) and not k.startswith(("ANTHROPIC", "CLAUDE", "CODEX"))}
    env.update(HOME=str(installer.user_home), DISABLE_AUTOUPDATER="1", NO_COLOR="1")
    return env


def billed_rows(tenant, surface: str, model: str) -> list:
    from ethergate.extensions import db
    from ethergate.usage.models import RequestLog
    db.session.expire_all()
    rows = db.session.scalars(select(RequestLog).where(RequestLog.api_key_id == tenant.key.id,
                                                       RequestLog.model_id == model)).all()
    db.session.rollback()
    return [r for r in rows if r.surface == surface and r.status_code == 200 and r.cost_micro > 0]


@pytest.fixture(scope="session")
def claude_cli():
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip("the tests run Claude Code's linux x64 binary (its npm bin is a stub until a postinstall runs)")
    return [str(agent_tool("claude-code") / "node_modules" / "@anthropic-ai" / "claude-code-linux-x64" / "claude")]


@pytest.fixture(scope="session")
def codex_cli():
    return [str(agent_tool("codex") / "node_modules" / ".bin" / "codex")]


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_claude_code_answers_through_the_messages_surface(installer, tenant, claude_cli, fake_upstream, tmp_path,
                                                          provider):
    model = MODELS[provider]
    result = installer.run("--target", "claude-code", "--api-key", tenant.plaintext, "--model", model)
    assert result.returncode == 0, result.stderr
    answer = subprocess.run([*claude_cli, "-p", "Say hello"], env=tool_env(installer), cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert answer.returncode == 0, (answer.stdout[-2000:], answer.stderr[-2000:])
    assert f"Hello from fake {provider}" in answer.stdout, answer.stdout
    assert billed_rows(tenant, "messages", model)


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_codex_answers_through_the_responses_surface(installer, tenant, codex_cli, fake_upstream, tmp_path, provider):
    model = MODELS[provider]
    result = installer.run("--target", "codex", "--api-key", tenant.plaintext, "--model", model)
    assert result.returncode == 0, result.stderr
    answer = subprocess.run([*codex_cli, "exec", "--skip-git-repo-check", "Say hello"], env=tool_env(installer),
                            cwd=tmp_path, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert answer.returncode == 0, (answer.stdout[-2000:], answer.stderr[-2000:])
    assert f"Hello from fake {provider}" in answer.stdout, (answer.stdout, answer.stderr[-2000:])
    assert billed_rows(tenant, "responses", model)


def upstream_models(model_id: str) -> list[str]:
    """Every upstream name the model routes to, so a one-time fake behaviour catches the agent's main call."""
    import tomllib
    from pathlib import Path
    catalog = tomllib.loads((Path(__file__).resolve().parents[2] / "ethergate/catalog/catalog.toml").read_text())
    model = next(m for m in catalog["models"] if m["id"] == model_id)
    return [route["upstream_model"] for route in model["routes"]]


def tool_results(fake_upstream) -> list[str]:
    return [str(m.get("content")) for r in fake_upstream.requests() if isinstance(r.get("body"), dict)
            for m in r["body"].get("messages") or [] if isinstance(m, dict) and m.get("role") == "tool"]


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_claude_code_runs_a_tool_loop_through_the_gateway(installer, tenant, claude_cli, fake_upstream, tmp_path,
                                                          provider):
    model = MODELS[provider]
    result = installer.run("--target", "claude-code", "--api-key", tenant.plaintext, "--model", model)
    assert result.returncode == 0, result.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("marker-4417\n")
    fake_upstream.clear()
    for upstream in upstream_models(model):
        fake_upstream.add_behavior(provider, {"tool_calls": [{"name": "Read", "arguments": {"file_path": str(notes)}}]},
                                   model=upstream, times=1)
    try:
        answer = subprocess.run([*claude_cli, "-p", "What does notes.txt say?"], env=tool_env(installer),
                                cwd=tmp_path, capture_output=True, text=True, timeout=300)
    finally:
        fake_upstream.clear_behaviors()
    assert answer.returncode == 0, (answer.stdout[-2000:], answer.stderr[-2000:])
    assert any("marker-4417" in text for text in tool_results(fake_upstream)), tool_results(fake_upstream)
    assert f"Hello from fake {provider}" in answer.stdout, answer.stdout
    assert len(billed_rows(tenant, "messages", model)) >= 2  # the tool call, then the answer


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_codex_runs_a_tool_loop_through_the_gateway(installer, tenant, codex_cli, fake_upstream, tmp_path, provider):
    model = MODELS[provider]
    result = installer.run("--target", "codex", "--api-key", tenant.plaintext, "--model", model)
    assert result.returncode == 0, result.stderr
    (tmp_path / "notes.txt").write_text("marker-4417\n")
    fake_upstream.clear()
    for upstream in upstream_models(model):
        fake_upstream.add_behavior(provider, {"tool_calls": [{"name": "exec_command",
                                                              "arguments": {"cmd": "cat notes.txt"}}]},
                                   model=upstream, times=1)
    try:
        answer = subprocess.run([*codex_cli, "exec", "--skip-git-repo-check", "What does notes.txt say?"],
                                env=tool_env(installer), cwd=tmp_path, capture_output=True, text=True, timeout=300,
                                stdin=subprocess.DEVNULL)
    finally:
        fake_upstream.clear_behaviors()
    assert answer.returncode == 0, (answer.stdout[-2000:], answer.stderr[-2000:])
    assert any("marker-4417" in text for text in tool_results(fake_upstream)), tool_results(fake_upstream)
    assert f"Hello from fake {provider}" in answer.stdout, (answer.stdout, answer.stderr[-2000:])
    assert len(billed_rows(tenant, "responses", model)) >= 2  # the tool call, then the answer
