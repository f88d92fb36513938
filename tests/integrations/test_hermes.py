"""install.sh for Hermes: config.yaml edited line by line, the key in .env."""
import pytest

from tests.integrations.conftest import mode, snapshot, yaml_load
from tests.integrations.homes import HERMES_CONFIG, HERMES_ENV, hermes_home

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant and tool home


def untouched_lines(original: str, result: str, owned: set[str]) -> None:
    """Every original line outside EtherGate's parts is still there, in the same order."""
    lines = iter(result.splitlines())
    for line in original.splitlines():
        if line in owned:
            continue
        assert any(candidate == line for candidate in lines), f"lost or reordered: {line!r}"


OWNED = {"  ethergate:", "    name: EtherGate (old)", "    api: http://old.example/v1", "    key_env: ETHERGATE_API_KEY",
         "- name: EtherGate", "  base_url: http://old.example/v1", "  api_key: cr_stale_key_0000"}


def test_install_sets_provider_and_key_and_keeps_the_rest(installer, gateway, tenant, tool_venv, tmp_path):
    home = hermes_home(tmp_path / "hermes")

    result = installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--home", str(home))

    assert result.returncode == 0, result.stderr
    text = (home / "config.yaml").read_text()
    untouched_lines(HERMES_CONFIG, text, OWNED)
    assert "# Hermes config" in text and "provider: openrouter   # my main provider" in text
    config = yaml_load(tool_venv, home / "config.yaml")
    catalog = gateway.models(tenant.plaintext)
    assert config["providers"]["ethergate"] == {
        "name": "EtherGate", "api": gateway.api.base_url, "key_env": "ETHERGATE_API_KEY",
        "transport": "chat_completions", "default_model": "deepseek/deepseek-v4-flash",
        "models": {m["id"]: {"context_length": m["context_length"]} for m in catalog}}
    assert config["providers"]["local-llm"] == {"name": "Local", "api": "http://localhost:8080/v1", "default_model": "qwen3"}
    assert config["model"] == {"default": "anthropic/claude-sonnet-4", "provider": "openrouter"}
    assert config["custom_providers"] == [{"name": "Other", "base_url": "http://other.example/v1"}]
    assert config["toolsets"] == ["hermes-cli"] and config["agent"] == {"max_turns": 90}
    assert config["_config_version"] == 33
    env = (home / ".env").read_text()
    assert env == HERMES_ENV.replace("cr_stale_key_0000", tenant.plaintext)
    assert mode(home / ".env") == 0o600
    assert (home / "skills/ethergate-provider/SKILL.md").exists()
    assert "Start a new Hermes session" in result.stdout


def test_unset_model_points_at_ethergate_and_reruns_are_idempotent(installer, tenant, tool_venv, tmp_path):
    home = hermes_home(tmp_path / "hermes", config="model: ''\nproviders: {}\n", env="")

    first = installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--home", str(home))

    assert first.returncode == 0, first.stderr
    config = yaml_load(tool_venv, home / "config.yaml")
    assert config["model"] == {"provider": "ethergate", "default": "deepseek/deepseek-v4-flash"}
    assert (home / ".env").read_text() == f"ETHERGATE_API_KEY={tenant.plaintext}\n"
    before = snapshot(home)
    second = installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--home", str(home))
    assert second.returncode == 0 and "Nothing to change." in second.stdout
    assert snapshot(home) == before


def test_rotating_the_key_changes_only_the_env_line(installer, gateway, tenant, tmp_path):
    home = hermes_home(tmp_path / "hermes")
    assert installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--home", str(home)).returncode == 0
    before = {k: v for k, v in snapshot(home).items() if ".bak-" not in k}
    new_key = gateway.new_key(tenant.workspace)

    assert installer.run("--target", "hermes", "--api-key", new_key, "--home", str(home)).returncode == 0

    after = {k: v for k, v in snapshot(home).items() if ".bak-" not in k}
    assert sorted(k for k in after if after[k] != before.get(k)) == [".env"]
    assert after[".env"].decode() == before[".env"].decode().replace(tenant.plaintext, new_key)


def test_pyyaml_verification_path_writes_the_same_bytes(installer, tenant, tool_venv, tmp_path):
    plain, checked = hermes_home(tmp_path / "plain"), hermes_home(tmp_path / "checked")
    assert installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--home", str(plain)).returncode == 0

    result = installer.run("--target", "hermes", "--api-key", tenant.plaintext, "--home", str(checked),
                           ETHERGATE_PYTHON=str(tool_venv / "bin" / "python"))

    assert result.returncode == 0, result.stderr
    assert (checked / "config.yaml").read_text() == (plain / "config.yaml").read_text()


def test_hermes_home_from_environment_and_default(installer, tenant, tmp_path):
    elsewhere = hermes_home(tmp_path / "elsewhere")
    assert installer.run("--target", "hermes", "--api-key", tenant.plaintext, HERMES_HOME=str(elsewhere)).returncode == 0
    assert "ethergate:" in (elsewhere / "config.yaml").read_text()

    default = hermes_home(installer.user_home / ".hermes")
    assert installer.run("--target", "hermes", "--api-key", tenant.plaintext).returncode == 0
    assert "ethergate:" in (default / "config.yaml").read_text()
