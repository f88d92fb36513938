"""install.sh for OpenClaw and QClaw, run for real against fixture homes and the live gateway."""
import json

import pytest

from tests.integrations.conftest import backups, mode, snapshot
from tests.integrations.homes import OPENCLAW_CONFIG, openclaw_home, strip_ethergate

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant and tool home


def read_config(engine_module, path):
    value, _ = engine_module.json5_loads(path.read_text())
    return value


def test_install_keeps_everything_else_and_sets_ethergate(installer, gateway, tenant, engine_module, tmp_path):
    home = openclaw_home(tmp_path / "oc")
    original = read_config(engine_module, home / "openclaw.json")

    result = installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home))

    assert result.returncode == 0, result.stderr
    config = read_config(engine_module, home / "openclaw.json")
    json.loads((home / "openclaw.json").read_text())  # written back as plain JSON, valid JSON5 too
    assert strip_ethergate(config) == strip_ethergate(original)
    provider = config["models"]["providers"]["ethergate"]
    catalog = gateway.models(tenant.plaintext)
    assert provider["baseUrl"] == gateway.api.base_url
    assert provider["apiKey"] == tenant.plaintext and provider["api"] == "openai-completions"
    assert [m["id"] for m in provider["models"]] == [m["id"] for m in catalog]
    flash = next(m for m in provider["models"] if m["id"] == "deepseek/deepseek-v4-flash")
    listed = next(m for m in catalog if m["id"] == "deepseek/deepseek-v4-flash")
    assert flash["contextWindow"] == listed["context_length"] and flash["maxTokens"] == listed["max_output_tokens"]
    assert flash["cost"]["input"] == float(listed["pricing"]["input"])
    assert flash["cost"]["output"] == float(listed["pricing"]["output"])
    assert flash["cost"]["cacheRead"] == float(listed["pricing"]["cached_input"])
    assert flash["reasoning"] is True and flash["input"] == ["text", "image"]
    # The user's own primary model stays; the allowlist map gains every EtherGate model and loses
    # the one EtherGate no longer serves.
    assert config["agents"]["defaults"]["model"] == original["agents"]["defaults"]["model"]
    allow = config["agents"]["defaults"]["models"]
    assert "ethergate/retired-model" not in allow and allow["custom-proxy/llama-3.1-8b"] == {"alias": "llama"}
    assert {f"ethergate/{m['id']}" for m in catalog} <= set(allow)
    assert "Default model left as custom-proxy/llama-3.1-8b" in result.stdout
    assert "comments in" in result.stdout and "were not preserved" in result.stdout

    cache = json.loads((home / "agents/main/agent/models.json").read_text())
    assert cache["providers"]["ethergate"] == provider
    assert cache["providers"]["openrouter"]["apiKey"] == "sk-or-keep"
    assert json.loads((home / "agents/work/agent/models.json").read_text())["providers"] == {
        "openrouter": {"baseUrl": "https://openrouter.example/api/v1", "apiKey": "sk-or"}}
    assert mode(home / "openclaw.json") == 0o600 and mode(home / "agents/main/agent/models.json") == 0o600
    assert backups(home) == sorted(b for b in backups(home))
    assert len([b for b in backups(home) if b.startswith("openclaw.json.bak-")]) == 1
    original_backup = next(home.glob("openclaw.json.bak-*"))
    assert original_backup.read_text() == OPENCLAW_CONFIG and mode(original_backup) == 0o600

    skill = home / "skills" / "ethergate-provider"
    assert (skill / "SKILL.md").read_text().startswith("---\nname: ethergate-provider\ndescription: ")
    assert (skill / "refresh-models.sh").stat().st_mode & 0o100
    assert tenant.plaintext not in (skill / "SKILL.md").read_text() + (skill / "refresh-models.sh").read_text()


def test_second_identical_run_changes_nothing(installer, tenant, tmp_path):
    home = openclaw_home(tmp_path / "oc")
    assert installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home)).returncode == 0
    before = snapshot(home)

    again = installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home))

    assert again.returncode == 0, again.stderr
    assert "Nothing to change." in again.stdout
    assert snapshot(home) == before


def test_rerun_with_new_key_rotates_it_everywhere_and_nothing_else(installer, gateway, tenant, engine_module, tmp_path):
    home = openclaw_home(tmp_path / "oc")
    assert installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home)).returncode == 0
    before = {name: body for name, body in snapshot(home).items() if ".bak-" not in name}
    new_key = gateway.new_key(tenant.workspace)

    result = installer.run("--target", "openclaw", "--api-key", new_key, "--home", str(home))

    assert result.returncode == 0, result.stderr
    after = {name: body for name, body in snapshot(home).items() if ".bak-" not in name}
    changed = sorted(name for name in after if after[name] != before.get(name))
    assert changed == ["agents/main/agent/models.json", "openclaw.json"]
    for name in changed:
        assert after[name].decode() == before[name].decode().replace(tenant.plaintext, new_key)
    assert tenant.plaintext not in "".join(b.decode() for b in after.values())


def test_unset_default_is_set_and_an_ethergate_default_is_kept(installer, tenant, engine_module, tmp_path):
    home = openclaw_home(tmp_path / "oc", config='{"agents": {"defaults": {"workspace": "~/w"}}}')
    assert installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home)).returncode == 0
    config = read_config(engine_module, home / "openclaw.json")
    assert config["agents"]["defaults"] == {"workspace": "~/w", "model": {"primary": "ethergate/deepseek/deepseek-v4-flash"}}

    chosen = installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home), "--model", "qwen/qwen-plus")
    assert chosen.returncode == 0, chosen.stderr
    assert "Default model: ethergate/qwen/qwen-plus" in chosen.stdout

    # A plain rerun keeps the EtherGate model the user picked.
    rerun = installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home))
    assert "Nothing to change." in rerun.stdout
    assert read_config(engine_module, home / "openclaw.json")["agents"]["defaults"]["model"]["primary"] == "ethergate/qwen/qwen-plus"


def test_default_locations_follow_openclaw_environment(installer, tenant, tmp_path):
    state = openclaw_home(tmp_path / "state")
    config = tmp_path / "elsewhere" / "my.json5"
    config.parent.mkdir()
    config.write_text("{ gateway: { port: 18789 } }")

    result = installer.run("--target", "openclaw", "--api-key", tenant.plaintext,
                           OPENCLAW_STATE_DIR=str(state), OPENCLAW_CONFIG_PATH=str(config))

    assert result.returncode == 0, result.stderr
    assert json.loads(config.read_text())["gateway"] == {"port": 18789}
    assert "ethergate" in json.loads(config.read_text())["models"]["providers"]
    assert (state / "openclaw.json").read_text() == OPENCLAW_CONFIG
    assert "ethergate" in json.loads((state / "agents/main/agent/models.json").read_text())["providers"]
    assert (state / "skills/ethergate-provider/SKILL.md").exists()


def test_openclaw_default_home_is_dot_openclaw(installer, tenant):
    home = openclaw_home(installer.user_home / ".openclaw")
    result = installer.run("--target", "openclaw", "--api-key", tenant.plaintext)
    assert result.returncode == 0, result.stderr
    assert "ethergate" in json.loads((home / "openclaw.json").read_text())["models"]["providers"]


def test_qclaw_reads_its_state_dir_from_qclaw_json(installer, tenant, tmp_path):
    state = openclaw_home(tmp_path / "qclaw-state")
    meta = installer.user_home / ".qclaw"
    meta.mkdir()
    (meta / "qclaw.json").write_text(json.dumps({
        "cli": {"nodeBinary": "/opt/qclaw/node", "openclawMjs": "/opt/qclaw/openclaw.mjs", "pid": 42},
        "stateDir": str(state), "configPath": str(state / "openclaw.json"), "port": 28789, "platform": "linux"}))

    result = installer.run("--target", "qclaw", "--api-key", tenant.plaintext)

    assert result.returncode == 0, result.stderr
    assert "ethergate" in json.loads((state / "openclaw.json").read_text())["models"]["providers"]
    assert (state / "skills/ethergate-provider/SKILL.md").exists()
    assert "Quit and reopen QClaw" in result.stdout


def test_qclaw_falls_back_to_dot_qclaw(installer, tenant):
    home = openclaw_home(installer.user_home / ".qclaw")
    result = installer.run("--target", "qclaw", "--api-key", tenant.plaintext)
    assert result.returncode == 0, result.stderr
    assert "ethergate" in json.loads((home / "openclaw.json").read_text())["models"]["providers"]


def test_skill_refresh_uses_the_stored_key_without_printing_it(installer, gateway, tenant, engine_module, tmp_path):
    home = openclaw_home(tmp_path / "oc")
    assert installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home)).returncode == 0
    config = home / "openclaw.json"
    stale = read_config(engine_module, config)
    stale["models"]["providers"]["ethergate"]["models"] = stale["models"]["providers"]["ethergate"]["models"][:1]
    config.write_text(json.dumps(stale))

    import subprocess
    refresh = subprocess.run(["sh", str(home / "skills/ethergate-provider/refresh-models.sh")],
                             env=installer.env(), capture_output=True, text=True, timeout=60)

    assert refresh.returncode == 0, refresh.stderr
    assert tenant.plaintext not in refresh.stdout + refresh.stderr
    models = read_config(engine_module, config)["models"]["providers"]["ethergate"]["models"]
    assert len(models) == len(gateway.models(tenant.plaintext))
