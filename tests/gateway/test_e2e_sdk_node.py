"""The docs' Node examples, run by the real `openai` npm package (installed by `make install`)."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .e2e import ledger_invariant, live_server, log_row  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("node") / "sdk_check.mjs"


def test_node_sdk_plain_streamed_tools_and_errors(live_server, tenant, fake_upstream):
    assert shutil.which("node"), "node is a prerequisite (README: Two commands)"
    assert (ROOT / "node_modules" / "openai").is_dir(), "run `make install` for the Node SDK"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(ETHERGATE_BASE_URL=live_server.base_url, ETHERGATE_API_KEY=tenant.plaintext)
    done = subprocess.run(["node", str(SCRIPT.relative_to(ROOT))], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout)

    assert seen["plain"]["content"].startswith("Hello from fake qwen")
    assert seen["plain"]["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    assert seen["stream"]["text"].startswith("Hello from fake qwen") and seen["stream"]["chunks"] > 3
    assert seen["stream"]["usage"]["total_tokens"] > 0

    assert seen["tool"]["finish"] == "tool_calls"
    call = seen["tool"]["call"]
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Hangzhou"}
    streamed = seen["toolStream"]["0"]
    assert streamed["id"].startswith("call_") and streamed["name"] == "get_weather"
    assert json.loads(streamed["arguments"]) == {"city": "Hangzhou"} and list(seen["toolStream"]) == ["0"]

    error = seen["error"]
    assert (error["name"], error["status"], error["code"]) == ("NotFoundError", 404, "model_not_found")
    assert log_row(error["requestID"]).status_code == 404
    assert {r["authorization"] for r in fake_upstream.requests()} == {
        "Bearer sk-test-qwen", "Bearer sk-test-deepseek", "Bearer sk-test-moonshot"}
