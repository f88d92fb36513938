"""The served scripts, the PowerShell script's hand-off to the shared engine, and the console fragment."""
import re
import subprocess
import sys

import pytest
import requests
from flask import render_template

from ethergate.integrations import integration_commands
from tests.integrations.conftest import INSTALL_URL, engine_path, snapshot
from tests.integrations.homes import hermes_home, opencode_home, openclaw_home, qwen_home

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant and tool home

ENGINE = engine_path().read_text()


@pytest.mark.parametrize("suffix", [".sh", ".ps1"])
def test_scripts_are_public_plain_text_uncached_and_name_this_instance(gateway, suffix):
    response = requests.get(gateway.console.url + INSTALL_URL + suffix, timeout=10, allow_redirects=False)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert f"{gateway.api.url}{INSTALL_URL}{suffix}" in response.text
    assert "__ETHERGATE" not in response.text.replace("__ETHERGATE_ENGINE_END__", "")
    assert requests.head(gateway.console.url + INSTALL_URL + suffix, timeout=10).status_code == 200


def embedded_engine(script: str, start: str, end: str) -> str:
    return script.split(start, 1)[1].split(end, 1)[0]


def test_both_scripts_embed_the_same_engine_verbatim(gateway):
    sh = requests.get(gateway.console.url + INSTALL_URL + ".sh", timeout=10).text
    ps1 = requests.get(gateway.console.url + INSTALL_URL + ".ps1", timeout=10).text
    assert embedded_engine(sh, "<<'__ETHERGATE_ENGINE_END__'\n", "\n__ETHERGATE_ENGINE_END__\n") + "\n" == ENGINE
    assert embedded_engine(ps1, "$engine = @'\n", "\n'@\n") + "\n" == ENGINE
    assert f"ETHERGATE_PUBLIC_URL='{gateway.api.url}'" in sh
    assert f"$EtherGatePublicUrl = '{gateway.api.url}'" in ps1


def test_bash_script_is_valid_syntax(installer):
    assert subprocess.run(["bash", "-n", str(installer.script)], capture_output=True).returncode == 0


POWERSHELL_TO_ENGINE = {"-Target": "--target", "-ApiKey": "--api-key", "-Home": "--home", "-Model": "--model",
                        "-DryRun": "--dry-run", "-Help": "--help", "-Locale": "--locale"}


def test_powershell_script_hands_every_option_to_the_engine(gateway):
    ps1 = requests.get(gateway.console.url + INSTALL_URL + ".ps1", timeout=10).text
    wrapper = ps1.replace(embedded_engine(ps1, "$engine = @'\n", "\n'@\n"), "")
    params = wrapper.split("param(", 1)[1].split("\n)\n", 1)[0]
    for option, flag in POWERSHELL_TO_ENGINE.items():
        name = "ToolHome" if option == "-Home" else option[1:]
        assert re.search(rf"\${name}\b", params), option
        assert f"'{flag}'" in wrapper, flag
    assert "[Alias('Home')][string]$ToolHome" in params
    assert "'--shell', 'ps1'" in wrapper and "'--base-url', $EtherGatePublicUrl" in wrapper
    # Run from a script block, `exit` would close the user's window.
    assert not re.search(r"^\s*exit\b", wrapper, re.MULTILINE)
    for pair in ("()", "{}", "[]"):
        assert wrapper.count(pair[0]) == wrapper.count(pair[1]), pair


@pytest.mark.parametrize("target, make_home", [("openclaw", openclaw_home), ("hermes", hermes_home),
                                               ("qwen-code", qwen_home), ("opencode", opencode_home)])
def test_powershell_and_bash_make_the_same_decisions(installer, gateway, tenant, tmp_path, target, make_home):
    by_bash, by_powershell = make_home(tmp_path / "bash"), make_home(tmp_path / "ps1")
    assert installer.run("--target", target, "--api-key", tenant.plaintext, "--home", str(by_bash)).returncode == 0

    # Exactly the argument list install.ps1 builds for the engine.
    result = subprocess.run([sys.executable, str(engine_path()), "--base-url", gateway.api.url, "--shell", "ps1",
                             "--locale", "en", "--target", target, "--api-key", tenant.plaintext,
                             "--home", str(by_powershell)], env=installer.env(), capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    bash_files = {k: v for k, v in snapshot(by_bash).items() if ".bak-" not in k and "/ethergate-provider/" not in k}
    ps_files = {k: v for k, v in snapshot(by_powershell).items() if ".bak-" not in k and "/ethergate-provider/" not in k}
    assert ps_files == bash_files
    skill = by_powershell / "skills" / "ethergate-provider"
    assert sorted(p.name for p in skill.iterdir()) == ["SKILL.md", "ethergate_provider.py", "refresh-models.ps1"]
    assert "-File" in (skill / "SKILL.md").read_text() and "-Model <model-id>" in (skill / "SKILL.md").read_text()


def test_integration_commands_quote_for_each_shell():
    commands = integration_commands("https://eg.example/", api_key="cr_abc", locale="zh")
    qclaw = commands["tools"][0]
    assert [t["target"] for t in commands["tools"]] == ["qclaw", "openclaw", "hermes", "qwen-code", "opencode", "aider",
                                                      "claude-code", "codex"]
    assert qclaw["bash"] == ("curl -fsSL 'https://eg.example/console/skills/ethergate-provider/install.sh' "
                             "| bash -s -- --target qclaw --api-key 'cr_abc' --locale 'zh'")
    assert qclaw["powershell"] == ("& ([scriptblock]::Create((irm 'https://eg.example/console/skills/ethergate-provider/"
                                   "install.ps1'))) -Target qclaw -ApiKey 'cr_abc' -Locale 'zh'")
    tricky = integration_commands("https://eg.example", api_key="it's")["tools"][2]
    assert "--api-key 'it'\\''s'" in tricky["bash"] and "-ApiKey 'it''s'" in tricky["powershell"]
    assert "<your-ethergate-key>" in integration_commands("https://eg.example")["tools"][1]["bash"]


def test_commands_fragment_renders_copyable_commands(app):
    context = {} if "_" in app.jinja_env.globals else {"_": lambda text, **fields: text % fields if fields else text}
    with app.test_request_context():
        html = render_template("integrations/_commands.html", base_url="https://eg.example", key_prefix="cr_ab12",
                               api_key=None, locale="en", **context)
    assert html.count('data-copy="curl -fsSL') == 8 and html.count('data-copy="&amp; ([scriptblock]') == 8
    assert "&lt;your-ethergate-key&gt;" in html and "cr_ab12" in html
    assert "openclaw gateway restart" in html and "<script" not in html
    assert "/v1/messages" in html and "/v1/responses" in html
    for target in ("qclaw", "openclaw", "hermes", "qwen-code", "opencode", "aider", "claude-code", "codex"):
        assert f'data-copy-target="integration-{target}-bash"' in html
        assert f'id="integration-{target}-powershell"' in html
