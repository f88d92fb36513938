"""The playground over HTTP: the request runs through /v1 in-process as the workspace's Playground key, is billed,
logged under that key, and comes back streamed (or whole without JavaScript), with its receipt and code samples."""
from __future__ import annotations

import pytest

from tests.conftest import PROVIDER_KEYS

MODEL = "deepseek/deepseek-v4-flash"


@pytest.fixture
def gateway(app, fake_upstream):
    """The in-process app routed to the fake upstream, as the live server is."""
    app.config["PROVIDER_KEYS"] = dict(PROVIDER_KEYS)
    app.config["PROVIDER_BASE_URLS"] = {p: fake_upstream.base_url(p) for p in PROVIDER_KEYS}
    fake_upstream.clear()
    return fake_upstream


def form(**fields):
    return {"model": MODEL, "system": "Be brief.", "user": "Write a launch checklist", "temperature": "0.3",
            "max_tokens": "64", **fields}


def playground_rows(workspace_id):
    from ethergate.extensions import db
    from ethergate.keys.models import ApiKey
    from ethergate.usage.models import RequestLog

    rows = db.session.query(RequestLog, ApiKey).join(ApiKey, ApiKey.id == RequestLog.api_key_id).filter(
        RequestLog.workspace_id == workspace_id).all()
    db.session.commit()
    return rows


def balance(workspace_id):
    from ethergate.billing.ledger import account_state
    return account_state(workspace_id)[0]


def test_the_stream_goes_through_v1_is_billed_and_labelled(client, owner, gateway):
    page = client.get(f"/console/w/{owner.slug}/playground")
    assert page.status_code == 200 and f'<option value="{MODEL}"' in page.get_data(as_text=True)
    before = balance(owner.workspace.id)
    path = f"/console/w/{owner.slug}/playground/stream"
    response = client.submit(path, form(), page=f"/console/w/{owner.slug}/playground")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    assert "data: [DONE]" in body and '"content"' in body and "sk-test" not in body
    request_id = response.headers["X-Request-Id"]
    [(log, key)] = playground_rows(owner.workspace.id)
    assert log.request_id == request_id and log.status_code == 200 and log.stream and log.cost_micro > 0
    assert key.name == "Playground" and key.purpose == "playground" and log.user_agent == "EtherGate Playground"
    assert balance(owner.workspace.id) == before - log.cost_micro
    sent = gateway.requests()[-1]["body"]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."} and sent["temperature"] == 0.3

    receipt = client.htmx_get(f"/console/w/{owner.slug}/playground/receipt/{request_id}").get_data(as_text=True)
    assert f'data-cost-micro="{log.cost_micro}"' in receipt and f"/usage/requests/{request_id}" in receipt
    usage = client.get(f"/console/w/{owner.slug}/usage/").get_data(as_text=True)
    assert "Playground" in usage and request_id[:12] in usage

    client.submit(path, form(user="again"), page=f"/console/w/{owner.slug}/playground")
    assert len({key.id for _log, key in playground_rows(owner.workspace.id)}) == 1  # one key, reused


def test_without_javascript_the_page_shows_the_whole_answer_and_receipt(client, owner, gateway):
    response = client.submit(f"/console/w/{owner.slug}/playground", form(), page=f"/console/w/{owner.slug}/playground")
    page = response.get_data(as_text=True)
    [(log, _key)] = playground_rows(owner.workspace.id)
    assert response.status_code == 200 and log.request_id in page and f'data-cost-micro="{log.cost_micro}"' in page
    assert not log.stream and 'id="pg-answer"' in page


def test_bad_values_get_the_gateways_own_error(client, owner, gateway):
    playground = f"/console/w/{owner.slug}/playground"
    page = client.submit(playground, form(temperature="hot"), page=playground)
    assert page.status_code == 422 and "temperature" in page.get_data(as_text=True)
    streamed = client.submit(playground + "/stream", form(temperature="9"), page=playground)
    assert streamed.status_code == 400 and streamed.json["error"]["param"] == "temperature"
    assert client.post(playground + "/stream", data=form()).status_code == 400  # no CSRF token


def test_an_empty_workspace_gets_402_not_a_free_answer(client, factories, auth, gateway):
    user = factories.user()
    workspace = factories.workspace(owner=user, name="Broke", credits=None)
    auth.login(user.email)
    playground = f"/console/w/{workspace.slug}/playground"
    response = client.submit(playground + "/stream", form(), page=playground)
    assert response.status_code == 402 and response.json["error"]["code"] == "insufficient_credits"


def test_copy_as_code_uses_the_base_url_and_the_same_request(app, client, owner):
    response = client.submit(f"/console/w/{owner.slug}/playground/code", form(user="it's here"),
                             page=f"/console/w/{owner.slug}/playground")
    html = response.get_data(as_text=True)
    base = app.config["PUBLIC_BASE_URL"] + "/v1"
    assert response.status_code == 200 and html.count(base) == 3
    assert "temperature=0.3" in html and "max_tokens: 64" in html and "it&#39;\\&#39;&#39;s here" in html


def test_non_members_cannot_use_a_workspace_playground(client, factories, auth):
    other = factories.workspace(owner=factories.user(), name="Other", credits="5.00")
    auth.login(factories.user().email)
    assert client.get(f"/console/w/{other.slug}/playground").status_code == 404


def test_the_playground_in_chinese(client, owner, gateway):
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    page = client.get(f"/console/w/{owner.slug}/playground").get_data(as_text=True)
    assert "试验场" in page and "用户消息" in page and "复制为代码" in page


def test_the_copied_python_and_curl_run_against_the_gateway(live_server, live_factories, tmp_path):
    """What "copy as code" gives is a working program: run it with a real key against the real server."""
    import os
    import shutil
    import subprocess
    import sys

    from ethergate.console.playground import request_body
    from ethergate.console.snippets import request_snippets

    tenant = live_factories.tenant(credits="5.00")
    body = request_body(form(user="Say it's fine"), stream=True)
    code = request_snippets(live_server.base_url, body)
    env = dict(os.environ, ETHERGATE_API_KEY=tenant.plaintext)
    script = tmp_path / "playground.py"
    script.write_text(code["python"])
    ran = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout.strip(), ran.stderr
    if shutil.which("node"):
        from tests.conftest import ROOT
        module = ROOT / "test-artifacts" / f"playground-{os.getpid()}.mjs"  # under the root: node finds node_modules
        module.parent.mkdir(exist_ok=True)
        module.write_text(code["node"])
        try:
            noded = subprocess.run(["node", str(module)], cwd=ROOT, env=env, capture_output=True, text=True,
                                   timeout=60)
        finally:
            module.unlink()
        assert noded.returncode == 0 and noded.stdout.strip(), noded.stderr
    if shutil.which("curl"):
        curled = subprocess.run(["bash", "-c", code["curl"]], env=env, capture_output=True, text=True, timeout=60)
        assert curled.returncode == 0 and "data: [DONE]" in curled.stdout, curled.stderr
