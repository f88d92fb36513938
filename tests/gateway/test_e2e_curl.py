"""The docs' curl example, run by real curl, verbatim but for the base URL (the key comes from the env)."""
import json
import os
import subprocess

import pytest

from .e2e import ledger_invariant, live_server, log_row  # noqa: F401

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant

DOCS_CURL = """curl https://ethergate.cn/v1/chat/completions \\
-H "Authorization: Bearer $ETHERGATE_API_KEY" \\
-H "Content-Type: application/json" \\
-H "X-Request-Id: demo-001" \\
-d '{
"model": "deepseek/deepseek-v4-flash",
"messages": [
{ "role": "user", "content": "Write a launch checklist" }
],
"stream": false
}'"""


def run_curl(command: str, base_url: str, key: str, home) -> tuple[dict, dict]:
    # Options go in a .curlrc so the command itself stays as the docs print it.
    (home / ".curlrc").write_text("include\nsilent\nshow-error\nnoproxy = \"*\"\n")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(ETHERGATE_API_KEY=key, CURL_HOME=str(home), HOME=str(home))
    done = subprocess.run(["bash", "-c", command.replace("https://ethergate.cn/v1", base_url)], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    headers = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    return {k.lower(): v for k, v in headers.items()}, json.loads(body)


def test_docs_curl_example(live_server, tenant, fake_upstream, tmp_path):
    headers, body = run_curl(DOCS_CURL, live_server.base_url, tenant.plaintext, tmp_path)
    assert headers["x-request-id"] == "demo-001"
    assert headers["x-ethergate-provider"] == "deepseek" and headers["content-type"] == "application/json"
    assert int(headers["x-ratelimit-limit"]) > 0 and "x-ratelimit-remaining" in headers
    assert body["object"] == "chat.completion" and body["model"] == "deepseek/deepseek-v4-flash"
    assert body["choices"][0]["message"]["content"].startswith("Hello from fake deepseek")
    assert body["usage"]["total_tokens"] > 0
    row = log_row("demo-001")
    assert (row.status_code, row.provider, row.upstream_model) == (200, "deepseek", "deepseek-flash")
    assert fake_upstream.requests()[-1]["authorization"] == "Bearer sk-test-deepseek"


def test_docs_curl_example_with_a_bad_key_shows_the_documented_error(live_server, tmp_path):
    headers, body = run_curl(DOCS_CURL, live_server.base_url, "cr_not-a-real-key", tmp_path)
    assert headers["x-request-id"] == "demo-001" and headers["content-type"] == "application/json"
    assert body == {"error": {"message": "The Authorization bearer token is missing, revoked or unknown.",
                              "type": "authentication_error", "param": None, "code": "invalid_api_key",
                              "request_id": "demo-001"}}
