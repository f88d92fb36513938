"""The served install.sh configures Claude Code (Messages) and Codex (Responses) and keeps the user's own settings."""
import json
import tomllib

import pytest

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant and tool home


def test_claude_code_gets_the_env_block_and_skips_onboarding(installer, gateway, tenant):
    home = installer.user_home
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(json.dumps(
        {"permissions": {"allow": ["Bash(ls:*)"]}, "env": {"ANTHROPIC_API_KEY": "sk-ant-old", "KEEP": "1"}}))
    (home / ".claude.json").write_text(json.dumps({"numStartups": 3}))

    result = installer.run("--target", "claude-code", "--api-key", tenant.plaintext, "--model", "qwen/qwen-plus")
    assert result.returncode == 0, result.stderr
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    env = settings["env"]
    assert env["ANTHROPIC_BASE_URL"] == gateway.api.url and not env["ANTHROPIC_BASE_URL"].endswith("/v1")
    assert env["ANTHROPIC_AUTH_TOKEN"] == tenant.plaintext and "ANTHROPIC_API_KEY" not in env
    assert env["ANTHROPIC_MODEL"] == "qwen/qwen-plus" and env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "qwen/qwen-flash"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    context = {m["id"]: m for m in gateway.models(tenant.plaintext)}["qwen/qwen-plus"]["context_length"]
    assert env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] == str(context)
    assert env["KEEP"] == "1" and settings["permissions"] == {"allow": ["Bash(ls:*)"]}
    assert json.loads((home / ".claude.json").read_text()) == {"numStartups": 3, "hasCompletedOnboarding": True}
    assert (home / ".claude" / "skills" / "ethergate-provider" / "SKILL.md").is_file()

    again = installer.run("--target", "claude-code")  # the stored key; the default model kept
    assert again.returncode == 0, again.stderr
    assert "qwen/qwen-plus" in again.stdout
    assert json.loads((home / ".claude" / "settings.json").read_text()) == settings


def test_codex_gets_a_responses_provider_and_the_key_in_its_env_file(installer, gateway, tenant):
    home = installer.user_home
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_text(
        '# my settings\nmodel = "gpt-5"\napproval_policy = "never"\n\n[analytics]\nenabled = true\n\n'
        '[mcp_servers.docs]\ncommand = "docs-mcp"\n')

    result = installer.run("--target", "codex", "--api-key", tenant.plaintext, "--model", "deepseek/deepseek-v4-flash")
    assert result.returncode == 0, result.stderr
    text = (home / ".codex" / "config.toml").read_text()
    config = tomllib.loads(text)
    assert config["model_provider"] == "ethergate" and config["model"] == "deepseek/deepseek-v4-flash"
    context = {m["id"]: m for m in gateway.models(tenant.plaintext)}["deepseek/deepseek-v4-flash"]["context_length"]
    assert config["model_context_window"] == context
    assert config["model_providers"]["ethergate"] == {"name": "EtherGate", "base_url": gateway.api.url + "/v1",
                                                      "env_key": "ETHERGATE_API_KEY", "wire_api": "responses"}
    assert config["analytics"] == {"enabled": False}
    assert config["approval_policy"] == "never" and config["mcp_servers"] == {"docs": {"command": "docs-mcp"}}
    assert text.startswith("# my settings\n")
    assert f"ETHERGATE_API_KEY={tenant.plaintext}\n" in (home / ".codex" / ".env").read_text()

    again = installer.run("--target", "codex")
    assert again.returncode == 0, again.stderr
    assert (home / ".codex" / "config.toml").read_text() == text
