"""Hostile field names and request IDs over real HTTP: the server writes every header, the client is billed once."""
import requests

from .e2e import call, ledger_invariant, live_server, log_row, say  # noqa: F401

MODEL = "deepseek/deepseek-v4-flash"


def test_client_text_reaches_headers_only_escaped_over_real_http(live_server, tenant):
    body = {"model": MODEL, "messages": say("hi"), "ключ": 1, "沜": 2, "a\r\nX-Injected: yes": 3}
    response = call(live_server, tenant.plaintext, body, headers={"X-Request-Id": "hostile-e2e-1"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Dropped-Params"] == "%D0%BA%D0%BB%D1%8E%D1%87,%E6%B2%9C,a%0D%0AX-Injected%3A%20yes"
    assert "X-Injected" not in response.headers and response.headers["X-Request-Id"] == "hostile-e2e-1"
    row = log_row("hostile-e2e-1")
    assert (row.status_code, row.error_code) == (200, None) and row.cost_micro > 0


def test_a_hostile_request_id_is_replaced_over_real_http(live_server, tenant):
    for sent in ("ключ".encode().decode("latin-1"), "x" * 129, "a b"):
        response = requests.post(live_server.base_url + "/chat/completions", timeout=20,
                                 json={"model": MODEL, "messages": say("hi")},
                                 headers={"Authorization": f"Bearer {tenant.plaintext}", "X-Request-Id": sent})
        assert response.status_code == 200 and response.headers["X-Request-Id"].startswith("req_")
