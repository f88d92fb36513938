"""The docs: every page in both languages, this instance's URL and models, and samples that really run."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

from ethergate.docs.pages import PAGES
from ethergate.extensions import db
from ethergate.gateway.errors import invalid_api_key

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r'<pre><code id="([^"]+)">(.*?)</code></pre>', re.S)
DEFAULT_BASE = "http://127.0.0.1:8000/v1"


def path_of(page) -> str:
    return f"/docs/{page.slug}" if page.slug else "/docs"


def code_blocks(html: str) -> dict[str, str]:
    return {block_id: unescape(body) for block_id, body in CODE.findall(html)}


@pytest.mark.parametrize("page", PAGES, ids=[p.slug or "index" for p in PAGES])
def test_every_page_renders_in_english_and_chinese(app, client, page):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        title = str(page.title)
    english = client.get(path_of(page)).get_data(as_text=True)
    assert f"<h1>{title}</h1>" in unescape(english)
    assert english.count('aria-current="page"') >= 2           # the Docs header link and the page in the TOC
    client.submit("/language", {"lang": "zh-CN", "next": "/docs"})
    chinese = client.get(path_of(page)).get_data(as_text=True)
    heading = re.search(r"<h1>(.*?)</h1>", chinese).group(1)
    assert re.search(r"[\u4e00-\u9fff]", heading), heading
    prose = re.sub(r"<(pre|code)[^>]*>.*?</\1>", "", chinese, flags=re.S)
    assert len(re.findall(r"[\u4e00-\u9fff]", prose)) > 60


def test_docs_show_this_instances_base_url_and_real_model_ids(app, client):
    from ethergate.catalog.snapshot import get_snapshot
    app.config["PUBLIC_BASE_URL"] = "https://api.example.cn"
    models = set(get_snapshot().models)
    seen_models = set()
    for page in PAGES:
        html = client.get(path_of(page)).get_data(as_text=True)
        assert DEFAULT_BASE not in html
        for code in code_blocks(html).values():
            seen_models |= set(re.findall(r'model["=:]+ ?"([a-z0-9.\-]+/[a-z0-9.\-]+)"', code))
    assert seen_models and seen_models <= models
    index = code_blocks(client.get("/docs").get_data(as_text=True))
    assert 'base_url="https://api.example.cn/v1"' in index["quickstart-request-python"]
    assert 'baseURL: "https://api.example.cn/v1"' in index["quickstart-request-node"]
    assert "curl https://api.example.cn/v1/chat/completions" in index["quickstart-request-curl"]
    api = client.get("/docs/api").get_data(as_text=True)
    assert all(f"<code>{model_id}</code>" in api for model_id in models)


def test_every_code_block_has_a_copy_button(client):
    total = 0
    for page in PAGES:
        html = client.get(path_of(page)).get_data(as_text=True)
        blocks = code_blocks(html)
        total += len(blocks)
        for block_id in blocks:
            assert f'data-copy-target="{block_id}"' in html, (page.slug, block_id)
    assert total > 30


def test_reference_covers_endpoints_fields_headers_and_errors(client):
    api = unescape(client.get("/docs/api").get_data(as_text=True))
    for expected in ("POST /v1/chat/completions", "GET /v1/models", "GET /healthz", "GET /status", "<code>model</code>",
                     "<code>messages</code>", "<code>stream</code>", "<code>temperature</code>", "<code>max_tokens</code>",
                     "<code>tools</code>", "X-Request-Id", "X-EtherGate-Provider", "X-RateLimit-Limit",
                     "X-RateLimit-Remaining", "Retry-After", "X-Dropped-Params"):
        assert expected in api, expected
    errors = client.get("/docs/errors").get_data(as_text=True)
    bodies = {block_id.removeprefix("error-"): json.loads(body) for block_id, body in code_blocks(errors).items()}
    for code in ("invalid_api_key", "insufficient_credits", "rate_limit_exceeded", "provider_request_failed",
                 "model_not_found", "model_not_ready", "key_spend_cap_exceeded", "invalid_json"):
        error = bodies[code]["error"]
        assert error["code"] == code and error["request_id"].startswith("req_") and error["type"] and error["message"]
    assert bodies["invalid_api_key"]["error"]["message"] == invalid_api_key().message
    assert bodies["provider_request_failed"]["error"]["provider"] == "deepseek"


def test_guides_cover_streaming_tools_billing_operators_and_going_live(client):
    def text(slug):
        return unescape(re.sub(r"<[^>]+>", " ", client.get(f"/docs/{slug}").get_data(as_text=True)))

    assert "stream=True" in text("streaming") and "data: [DONE]" in text("streaming")
    assert "tool_calls" in text("tools") and '"role": "tool"' in text("tools")
    billing = text("billing")
    assert "402" in billing and "insufficient_credits" in billing and "estimated" in billing
    operators = text("provider-keys")
    assert "ETHERGATE_DEEPSEEK_API_KEY" in operators and "ETHERGATE_QWEN_BASE_URL" in operators
    assert "model_not_ready" in operators
    assert text("going-live").count("Retry-After") == 1 and "max_tokens" in text("going-live")
    assert "not as vendor-certified scores" in text("benchmarks")
    assert "--target qclaw" in text("agent-tools")


def test_python_samples_run_against_the_gateway(live_server, live_factories, fake_upstream, tmp_path):
    tenant = live_factories.tenant(credits="20.00")
    db.session.rollback()  # the live server writes next; hold no SQLite lock here
    fake_upstream.clear()
    import requests
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["ETHERGATE_API_KEY"] = tenant.plaintext
    pages = {slug: requests.get(f"{live_server.url}/docs/{slug}", timeout=30).text for slug in ("sdks", "streaming", "tools")}
    samples = {"plain": code_blocks(pages["sdks"])["sdk-python"],
               "stream": code_blocks(pages["streaming"])["streaming-request-python"],
               "tools": code_blocks(pages["tools"])["tools-request-python"]}
    outputs = {}
    for name, code in samples.items():
        assert live_server.base_url in code  # the server shows the address it listens on
        if name == "tools":  # the fake answers the first call with a tool call, as a real model would
            fake_upstream.add_behavior("deepseek", {"tool_calls": [{"name": "get_weather",
                                                                    "arguments": "{\"city\": \"Beijing\"}"}]},
                                       model="deepseek-flash", times=1)
        script = tmp_path / f"{name}.py"
        script.write_text(code)
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (name, done.stderr[-2000:])
        outputs[name] = done.stdout
    assert outputs["plain"].strip() and "completion_tokens" in outputs["stream"] and outputs["tools"].strip()
    calls = [r for r in fake_upstream.requests() if r.get("body", {}).get("tools")]
    assert len(calls) == 2 and calls[1]["body"]["messages"][-1]["role"] == "tool"


def test_node_samples_run_against_the_gateway(live_server, live_factories, fake_upstream):
    assert shutil.which("node"), "node is a prerequisite (README: Two commands)"
    assert (ROOT / "node_modules" / "openai").is_dir(), "run `make install` for the Node SDK"
    tenant = live_factories.tenant(credits="20.00")
    db.session.rollback()
    import requests
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["ETHERGATE_API_KEY"] = tenant.plaintext
    folder = ROOT / "test-artifacts" / "docs-samples"     # under the repo, so `import "openai"` resolves
    folder.mkdir(parents=True, exist_ok=True)
    for slug, block in (("sdks", "sdk-node"), ("streaming", "streaming-request-node")):
        code = code_blocks(requests.get(f"{live_server.url}/docs/{slug}", timeout=30).text)[block]
        assert live_server.base_url in code
        script = folder / f"{block}-{os.getpid()}.mjs"
        script.write_text(code)
        try:
            done = subprocess.run(["node", str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        finally:
            script.unlink()
        assert done.returncode == 0, (block, done.stderr[-2000:])
        assert done.stdout.strip()


def test_operator_pages_are_listed_apart_from_the_customer_docs(client):
    from ethergate.docs.pages import OPERATOR_PAGES
    assert "provider-keys" not in [page.slug for page in PAGES]
    assert [page.slug for page in OPERATOR_PAGES] == ["provider-keys"]
    html = client.get("/docs/billing").get_data(as_text=True)
    nav = html.split('aria-label="Docs"')[1].split("</nav>")[0]
    customer, operators = nav.split("For operators")
    assert "Provider keys" not in customer and 'href="/docs/provider-keys"' in operators
    page = client.get("/docs/provider-keys")
    assert page.status_code == 200 and 'rel="next"' not in page.get_data(as_text=True)


def test_messages_and_responses_samples_run_against_the_gateway(live_server, live_factories, fake_upstream, tmp_path):
    import requests
    tenant = live_factories.tenant(credits="20.00")
    db.session.rollback()  # the live server writes next; hold no SQLite lock here
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["ETHERGATE_API_KEY"] = tenant.plaintext
    for slug, block in (("messages", "messages-python"), ("responses", "responses-python")):
        code = code_blocks(requests.get(f"{live_server.url}/docs/{slug}", timeout=30).text)[block]
        assert live_server.base_url.removesuffix("/v1") in code
        script = tmp_path / f"{slug}.py"
        script.write_text(code)
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (slug, done.stderr[-2000:])
        assert "Hello from fake" in done.stdout and "cost" in done.stdout, done.stdout
