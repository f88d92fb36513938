"""The support search box: request IDs exactly, workspaces, users and keys by fragment or prefix."""
from __future__ import annotations

from ethergate.usage.recorder import log_values, record_request


def log_request(workspace, key, request_id: str, status: int = 200) -> None:
    record_request(log_values(request_id=request_id, workspace_id=workspace.id, api_key_id=key.id, method="POST",
                              path="/v1/chat/completions", model_id="qwen/qwen-plus", status_code=status))


def search(client, query: str):
    return client.get("/support/", query_string={"q": query})


def test_an_exact_request_id_opens_its_trace(client, staff, factories):
    tenant = factories.tenant()
    log_request(tenant.workspace, tenant.key, "req_4f1e")
    response = search(client, "req_4f1e")
    assert response.status_code == 303 and response.headers["Location"] == "/support/requests/req_4f1e"
    assert client.htmx_get("/support/?q=req_4f1e", headers={"HX-Boosted": "true"}).headers["HX-Redirect"] \
        == "/support/requests/req_4f1e"
    html = search(client, "req_4f").get_data(as_text=True)
    assert "Nothing matches" in html  # request IDs match exactly, never by fragment


def test_workspaces_by_slug_or_name_fragment(client, staff, factories):
    acme = factories.workspace(name="Acme Robotics")
    factories.workspace(name="Globex")
    html = search(client, "robot").get_data(as_text=True)
    assert "Acme Robotics" in html and "Globex" not in html
    assert f"/support/workspaces/{acme.slug}" in html
    assert "Acme Robotics" in search(client, acme.slug).get_data(as_text=True)
    assert "Nothing matches" in search(client, "100%").get_data(as_text=True)  # LIKE wildcards are literal


def test_users_by_email_fragment_with_their_workspaces(client, staff, factories, join):
    user = factories.user("dana@customer.example")
    workspace = factories.workspace(owner=user, name="Dana's lab")
    html = search(client, "customer.exa").get_data(as_text=True)
    assert "dana@customer.example" in html and "Dana&#39;s lab" in html and "Owner" in html
    assert f"/support/workspaces/{workspace.slug}" in html


def test_keys_by_prefix_as_shown_or_pasted_whole(client, staff, factories):
    tenant = factories.tenant(name="prod server")
    prefix = tenant.key.prefix
    for query in (prefix + "…", prefix, prefix[:6], tenant.plaintext):
        html = search(client, query).get_data(as_text=True)
        assert "prod server" in html and tenant.workspace.name in html, query
    assert "prod server" not in search(client, "cr_zzzzz").get_data(as_text=True)


def test_short_or_empty_queries(client, staff):
    assert "Paste the request ID" in search(client, "").get_data(as_text=True)
    assert "at least 2 characters" in search(client, "a").get_data(as_text=True)
