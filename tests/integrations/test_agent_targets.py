"""install.sh for Qwen Code, opencode and aider: EtherGate's parts set, everything else kept, reruns rotate and refresh."""
import json
import subprocess

import pytest

from tests.integrations.conftest import backups, mode, snapshot
from tests.integrations.homes import AIDER_CONF, opencode_home, qwen_home


def read_json(engine_module, path):
    value, _ = engine_module.json5_loads(path.read_text())
    return value


def test_qwen_code_settings_and_env(installer, gateway, tenant, engine_module, tmp_path):
    home = qwen_home(tmp_path / "qwen")
    original = read_json(engine_module, home / "settings.json")

    result = installer.run("--target", "qwen-code", "--api-key", tenant.plaintext, "--home", str(home))

    assert result.returncode == 0, result.stderr
    settings = json.loads((home / "settings.json").read_text())
    catalog = gateway.models(tenant.plaintext)
    ours = settings["modelProviders"]["ethergate"]
    assert [m["id"] for m in ours] == [m["id"] for m in catalog]
    plus = next(m for m in ours if m["id"] == "qwen/qwen-plus")
    assert plus["baseUrl"] == gateway.api.base_url and plus["envKey"] == "ETHERGATE_API_KEY"
    assert plus["generationConfig"] == {"contextWindowSize": 1000000, "samplingParams": {"max_tokens": 32000}}
    assert settings["providerProtocol"] == {"ethergate": "openai"}
    assert settings["model"] == {"name": "deepseek/deepseek-v4-flash"}
    assert settings["security"] == {"auth": {"selectedType": "openai"}}
    assert settings["privacy"] == {"usageStatisticsEnabled": False}
    assert settings["memory"] == {"enableManagedAutoMemory": False}
    for key in ("$version", "ui", "tools"):
        assert settings[key] == original[key]
    assert settings["modelProviders"]["openai"] == original["modelProviders"]["openai"]
    assert tenant.plaintext not in (home / "settings.json").read_text()
    assert (home / ".env").read_text() == f"OPENAI_API_KEY=sk-keep\nETHERGATE_API_KEY={tenant.plaintext}\n"
    assert mode(home / ".env") == 0o600
    assert {b.split(".bak-")[0] for b in backups(home)} == {"settings.json", ".env"}
    assert "comments" in result.stdout  # JSON comments are not kept; the backup has them
    assert (home / "skills/ethergate-provider/SKILL.md").exists()


def test_qwen_code_keeps_a_users_own_model(installer, tenant, tmp_path):
    home = qwen_home(tmp_path / "qwen", settings='{"model": {"name": "qwen3-coder-plus"}, '
                                                 '"security": {"auth": {"selectedType": "qwen-oauth"}}}')
    result = installer.run("--target", "qwen-code", "--api-key", tenant.plaintext, "--home", str(home))
    assert result.returncode == 0, result.stderr
    settings = json.loads((home / "settings.json").read_text())
    assert settings["model"] == {"name": "qwen3-coder-plus"}
    assert settings["security"] == {"auth": {"selectedType": "qwen-oauth"}}
    assert "Default model left as qwen3-coder-plus" in result.stdout


def test_opencode_provider_models_and_defaults(installer, gateway, tenant, engine_module, tmp_path):
    home = opencode_home(tmp_path / "opencode")
    original = read_json(engine_module, home / "opencode.json")

    result = installer.run("--target", "opencode", "--api-key", tenant.plaintext, "--home", str(home))

    assert result.returncode == 0, result.stderr
    config = json.loads((home / "opencode.json").read_text())
    catalog = gateway.models(tenant.plaintext)
    provider = config["provider"]["ethergate"]
    assert provider["npm"] == "@ai-sdk/openai-compatible"
    assert provider["options"] == {"baseURL": gateway.api.base_url, "apiKey": tenant.plaintext}
    assert list(provider["models"]) == [m["id"] for m in catalog]
    assert provider["models"]["qwen/qwen-plus"]["limit"] == {"context": 1000000, "output": 32768}
    assert config["model"] == "ethergate/deepseek/deepseek-v4-flash"
    assert config["small_model"] == "ethergate/qwen/qwen-flash"
    assert config["autoupdate"] is False and config["share"] == "disabled"
    assert config["provider"]["ollama"] == original["provider"]["ollama"]
    assert config["theme"] == "tokyonight" and config["keybinds"] == {"leader": "ctrl+x"}
    assert mode(home / "opencode.json") == 0o600
    assert (home / "skills/ethergate-provider/refresh-models.sh").exists()


def test_opencode_default_location_is_made_on_first_use(installer, tenant):
    result = installer.run("--target", "opencode", "--api-key", tenant.plaintext)
    assert result.returncode == 0, result.stderr
    assert "ethergate" in json.loads((installer.user_home / ".config/opencode/opencode.json").read_text())["provider"]


def test_aider_conf_and_metadata(installer, gateway, tenant, tmp_path):
    (installer.user_home / ".aider.conf.yml").write_text(AIDER_CONF)

    result = installer.run("--target", "aider", "--api-key", tenant.plaintext, "--model", "qwen/qwen-plus")

    assert result.returncode == 0, result.stderr
    text = (installer.user_home / ".aider.conf.yml").read_text()
    assert text == ("# my aider settings\ndark-mode: true   # easier on the eyes\n"
                    f"openai-api-base: \"{gateway.api.base_url}\"\nauto-commits: false\n"
                    "model: \"openai/qwen/qwen-plus\"\n"
                    f"openai-api-key: \"{tenant.plaintext}\"\ncheck-update: false\nanalytics-disable: true\n")
    assert mode(installer.user_home / ".aider.conf.yml") == 0o600
    metadata = json.loads((installer.user_home / ".aider.model.metadata.json").read_text())
    assert metadata["openai/qwen/qwen-plus"]["max_input_tokens"] == 1000000
    assert metadata["openai/qwen/qwen-plus"]["max_output_tokens"] == 32768
    assert (installer.user_home / ".aider/skills/ethergate-provider/SKILL.md").exists()


@pytest.mark.parametrize("target,home_of", [
    ("qwen-code", lambda tmp: qwen_home(tmp / "qwen")),
    ("opencode", lambda tmp: opencode_home(tmp / "opencode")),
    ("aider", lambda tmp: _aider_home(tmp / "aider")),
])
def test_dry_run_rerun_and_rotation(installer, gateway, tenant, tmp_path, target, home_of):
    home = home_of(tmp_path)
    before = snapshot(home)
    dry = installer.run("--target", target, "--api-key", tenant.plaintext, "--home", str(home), "--dry-run")
    assert dry.returncode == 0 and "Dry run" in dry.stdout and snapshot(home) == before

    assert installer.run("--target", target, "--api-key", tenant.plaintext, "--home", str(home)).returncode == 0
    first = {k: v for k, v in snapshot(home).items() if ".bak-" not in k}
    again = installer.run("--target", target, "--home", str(home))  # the stored key, no --api-key
    assert again.returncode == 0 and "Nothing to change." in again.stdout, again.stderr

    new_key = gateway.new_key(tenant.workspace)
    assert installer.run("--target", target, "--api-key", new_key, "--home", str(home)).returncode == 0
    after = {k: v for k, v in snapshot(home).items() if ".bak-" not in k}
    changed = sorted(k for k in after if after[k] != first.get(k))
    assert changed and all(tenant.plaintext not in after[k].decode() for k in changed)
    assert any(new_key in after[k].decode() for k in changed)
    assert all(after[k] == first[k] for k in first if k not in changed)

    # The skill's refresh uses the stored key and rewrites nothing when the catalog is unchanged.
    script = home / SKILL_DIRS[target] / "refresh-models.sh"
    refreshed = subprocess.run(["sh", str(script)], env=installer.env(), capture_output=True, text=True,
                               timeout=120)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "Nothing to change." in refreshed.stdout


SKILL_DIRS = {"qwen-code": "skills/ethergate-provider", "opencode": "skills/ethergate-provider",
              "aider": ".aider/skills/ethergate-provider"}


def _aider_home(root):
    root.mkdir(parents=True)
    (root / ".aider.conf.yml").write_text(AIDER_CONF)
    return root
