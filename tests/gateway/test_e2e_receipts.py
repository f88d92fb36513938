"""GET /v1/requests/<id> and GET /v1/credits through the real openai SDK, against what the ledger holds."""
import openai
import pytest
import requests
from sqlalchemy import select

from ethergate.billing import ledger
from ethergate.billing.models import LedgerEntry
from ethergate.billing.pricing import AppliedPrices, usage_cost
from ethergate.extensions import db

from .e2e import fresh, ledger_invariant, live_server, log_row, say  # noqa: F401

MODEL = "qwen/qwen-plus"
REPORTED = {"prompt_tokens": 1200, "completion_tokens": 500, "cached_tokens": 800, "reasoning_tokens": 100}


def receipt(client, request_id: str) -> dict:
    return client.get(f"/requests/{request_id}", cast_to=object)


def usage_entry(request_id: str):
    table = LedgerEntry.__table__
    return fresh(lambda: db.session.execute(select(table).where(table.c.request_id == request_id,
                                                                table.c.kind == "usage")).one())


def assert_matches_ledger(body: dict, request_id: str) -> None:
    entry = usage_entry(request_id)
    assert body["cost"]["amount_micro"] == -entry.amount_micro == log_row(request_id).cost_micro
    assert body["cost"]["ledger_entry_id"] == entry.id
    prices = body["prices"]
    applied = AppliedPrices(prices["input_micro"], prices["cached_input_micro"], prices["output_micro"], "")
    assert usage_cost(body["usage"], applied) == body["cost"]["amount_micro"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_a_request_has_a_receipt_that_agrees_with_the_ledger(client, stream):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=say("hi", usage=REPORTED), stream=stream,
        **({"stream_options": {"include_usage": True}} if stream else {}))
    list(raw.parse()) if stream else raw.parse()
    request_id = raw.headers["X-Request-Id"]
    log_row(request_id)  # a stream writes its row when it settles

    body = receipt(client, request_id)
    assert body["object"] == "request" and body["id"] == request_id and body["api"] == "chat.completions"
    assert (body["model"], body["provider"], body["upstream_model"]) == (MODEL, "qwen", "qwen-plus")
    assert body["status"] == "succeeded" and body["status_code"] == 200 and body["error"] is None
    assert body["stream"] is stream and body["latency_ms"] >= 0 and len(body["attempts"]) == 1
    assert body["usage"] == {**REPORTED, "total_tokens": 1700}
    assert body["cost"]["metered"] is True and body["cost"]["estimated"] is False
    assert body["cost"]["currency"] == "CNY" and body["prices"]["per_tokens"] == 1_000_000
    assert body["cost"]["amount"] == f"{body['cost']['amount_micro'] / 1_000_000:.6f}"
    assert body["hold_status"] == "captured"
    assert_matches_ledger(body, request_id)


def test_an_estimated_request_says_so(client):
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=say("hi", no_usage=True))
    request_id = raw.headers["X-Request-Id"]
    body = receipt(client, request_id)
    assert body["cost"]["estimated"] is True and body["cost"]["metered"] is False
    assert body["cost"]["amount_micro"] > 0
    assert_matches_ledger(body, request_id)


def test_a_failed_request_has_a_receipt_with_its_error_and_no_charge(client):
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model=MODEL, messages=say("hi", status=400, error_message="bad prompt"))
    request_id = failed.value.response.headers["X-Request-Id"]
    body = receipt(client, request_id)
    assert body["status"] == "failed" and body["status_code"] == failed.value.status_code
    assert body["error"]["code"] and body["error"]["message"]
    assert body["cost"] == {"amount": "0.000000", "amount_micro": 0, "currency": "CNY", "estimated": False,
                            "metered": False, "ledger_entry_id": None}
    assert body["prices"] is None and body["hold_status"] == "voided"


def test_another_workspaces_request_is_not_found(client, live_server, live_factories):
    other = live_factories.tenant(credits="5.00", rpm_limit=1000)
    other_client = openai.OpenAI(api_key=other.plaintext, base_url=live_server.base_url, max_retries=0, timeout=20)
    raw = other_client.chat.completions.with_raw_response.create(model=MODEL, messages=say("hi"))
    theirs = raw.headers["X-Request-Id"]
    assert receipt(other_client, theirs)["id"] == theirs
    for unknown in (theirs, "req_does_not_exist", "bad id with spaces"):
        with pytest.raises(openai.NotFoundError) as missing:
            receipt(client, unknown)
        assert missing.value.body["code"] == "request_not_found"
        assert missing.value.body["type"] == "invalid_request_error"


def test_credits_show_balance_held_and_available(client, live_server, tenant):
    body = client.get("/credits", cast_to=object)
    balance, held = fresh(lambda: ledger.account_state(tenant.workspace.id))
    assert body == {"object": "credits", "currency": "CNY", "balance": f"{balance / 1e6:.6f}",
                    "held": f"{held / 1e6:.6f}", "available": f"{(balance - held) / 1e6:.6f}",
                    "balance_micro": balance, "held_micro": held, "available_micro": balance - held}
    client.chat.completions.create(model=MODEL, messages=say("hi", usage=REPORTED))
    after = client.get("/credits", cast_to=object)
    assert after["balance_micro"] < balance and after["held_micro"] == 0


def test_receipts_need_the_key(live_server):
    response = requests.get(live_server.base_url + "/credits", timeout=10)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
