"""Optional reference point: the LiteLLM proxy in front of the same nginx upstream, measured the same way.

LiteLLM lives in bench/.venv-litellm (pinned in bench/requirements-litellm.txt) and is never a project
dependency. `python -m bench.run --litellm install` creates that venv; without it the scenario is skipped.
"""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .child import Child, ChildFailed, child_pids, environ, free_port, wait_for_port
from .payloads import PROVIDER_KEY, UPSTREAM_MODEL, chat_request

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-litellm"
MASTER_KEY = "sk-bench-litellm-master"
CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: {api_base}
      api_key: {api_key}
litellm_settings:
  telemetry: false
  drop_params: true
general_settings:
  master_key: {master_key}
"""


def install(log) -> None:
    log("installing LiteLLM into bench/.venv-litellm")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r",
                    str(BENCH / "requirements-litellm.txt")], check=True, timeout=1800)


def version() -> str:
    result = subprocess.run([str(VENV / "bin" / "python"), "-c",
                             "import importlib.metadata as m; print(m.version('litellm'))"],
                            capture_output=True, text=True, timeout=60)
    return result.stdout.strip() or "?"


def check_answer(url: str) -> None:
    request = urllib.request.Request(url, data=chat_request(UPSTREAM_MODEL), method="POST",
                                     headers={"Authorization": f"Bearer {MASTER_KEY}",
                                              "Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise ChildFailed(f"LiteLLM answered {error.code}: {error.read().decode()[:1000]}") from None
    if not body.get("choices"):
        raise ChildFailed(f"LiteLLM answer has no choices: {str(body)[:1000]}")


def measure(bench, install_missing: bool) -> dict:
    if not (VENV / "bin" / "litellm").exists():
        if not install_missing:
            return {"skipped": "bench/.venv-litellm is absent (python -m bench.run --litellm install creates it)"}
        install(bench.log)
    workdir = bench.workdir
    config = workdir / "litellm.yaml"
    config.write_text(CONFIG.format(model=UPSTREAM_MODEL, api_base=bench.json_upstream.base_url(),
                                    api_key=PROVIDER_KEY, master_key=MASTER_KEY))
    port = free_port()
    # Offline: the model cost map ships inside the package; no telemetry, no update checks.
    env = environ(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR", LITELLM_TELEMETRY="False",
                  DISABLE_SCHEMA_UPDATE="True")
    child = Child("LiteLLM proxy", [str(VENV / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1",
                                    "--port", str(port), "--num_workers", "1"], workdir / "litellm.log",
                  env=env).start()
    bench.stack.callback(child.stop)
    wait_for_port(port, child, timeout=180)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    check_answer(url)
    script = bench.script("litellm", chat_request(UPSTREAM_MODEL), MASTER_KEY)
    pids = [child.pid, *child_pids(child.pid)]
    conc = bench.plan.connections
    entry = {"version": version(), "workers": 1,
             "c32": bench.load(f"LiteLLM c{conc}", url, script, conc, server_pids=pids),
             "c1": bench.load("LiteLLM c1", url, script, 1, server_pids=pids)}
    child.stop()
    return entry
