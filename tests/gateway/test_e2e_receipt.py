"""Every answer carries its receipt (usage.cost, usage.cost_details, X-EtherGate-Cost), priced at the tier of
the tokens the provider reported, and the receipt agrees with the ledger entry to the micro-unit."""
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import select

from ethergate.billing.models import LedgerEntry
from ethergate.extensions import db

from .e2e import call, fresh, ledger_invariant, live_server, log_row, say, wait_for  # noqa: F401

QWEN = "qwen/qwen-plus"
# 48,000 Chinese characters: 144,000 UTF-8 bytes bound the hold (the 128K-256K tier), ~29,000 real tokens.
CJK_PROMPT = "测" * 48_000
REAL = {"prompt_tokens": 29_000, "completion_tokens": 1_000}


def entry_of(request_id: str):
    table = LedgerEntry.__table__
    # A stream is captured as it closes, just after its last event reached the client.
    rows = wait_for(lambda: db.session.execute(select(table).where(table.c.request_id == request_id)).all())
    assert len(rows) == 1, rows
    return rows[0]


def assert_receipt_matches_ledger(usage: dict, request_id: str, header: str | None = None):
    details = usage["cost_details"]
    parts = sum(Decimal(details[name]) for name in ("prompt", "cached", "completion"))
    cost = Decimal(usage["cost"])
    assert cost.as_tuple().exponent == -6  # full micro precision, as a decimal string
    if not details["capped_at_hold"]:
        assert cost == parts.quantize(Decimal("0.000001"), rounding=ROUND_CEILING)
    entry = entry_of(request_id)
    assert -entry.amount_micro == int(cost * 1_000_000) == log_row(request_id).cost_micro
    assert entry.estimated == details["estimated"]
    prices = details["unit_prices"]
    assert (Decimal(prices["input"]), Decimal(prices["cached_input"]), Decimal(prices["output"])) == (
        Decimal(entry.pricing["input_micro"]) / 1_000_000, Decimal(entry.pricing["cached_input_micro"]) / 1_000_000,
        Decimal(entry.pricing["output_micro"]) / 1_000_000)
    assert details["price_source"] == entry.pricing["source"] and details["currency"] == entry.pricing["currency"]
    if header is not None:
        assert header == usage["cost"]
    return entry


def test_a_long_cjk_prompt_is_billed_at_the_tier_of_its_real_tokens(client):
    messages = say(CJK_PROMPT, usage=REAL)
    raw = client.chat.completions.with_raw_response.create(model=QWEN, messages=messages, max_tokens=2000)
    usage = raw.parse().usage.model_dump()
    # 29,000 x 0.80 + 1,000 x 2.00 per million: 25,200 micro (the byte-bound tier would bill 89,600).
    assert usage["cost"] == "0.025200" and raw.headers["X-EtherGate-Cost"] == "0.025200"
    details = usage["cost_details"]
    assert (details["prompt"], details["cached"], details["completion"]) == ("0.023200", "0.000000", "0.002000")
    assert details["unit_prices"] == {"input": "0.800000", "cached_input": "0.160000", "output": "2.000000",
                                      "per_tokens": 1_000_000}
    assert details["price_source"] == "tier<=131072" and details["estimated"] is False
    entry = assert_receipt_matches_ledger(usage, raw.headers["X-Request-Id"], raw.headers["X-EtherGate-Cost"])
    assert entry.pricing["tier_prompt_tokens"] == 29_000 and entry.pricing["hold_micro"] > 89_600
    assert not entry.over_hold

    streamed = client.chat.completions.with_raw_response.create(
        model=QWEN, messages=messages, max_tokens=2000, stream=True, stream_options={"include_usage": True})
    last = list(streamed.parse())[-1].usage.model_dump()
    assert last["cost"] == "0.025200" and last["cost_details"]["price_source"] == "tier<=131072"
    assert "X-EtherGate-Cost" not in streamed.headers  # a stream's cost is not known before its body
    assert_receipt_matches_ledger(last, streamed.headers["X-Request-Id"])


def test_the_receipt_over_raw_http_splits_cached_and_reasoning_tokens(live_server, tenant):
    reported = {"prompt_tokens": 1234, "cached_tokens": 777, "completion_tokens": 321, "reasoning_tokens": 100}
    response = call(live_server, tenant.plaintext, {"model": "deepseek/deepseek-v4-flash",
                                                    "messages": say("hi", usage=reported, reasoning="Hmm.")})
    assert response.status_code == 200
    usage = response.json()["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (1234, 321)
    details = usage["cost_details"]
    assert Decimal(details["cached"]) > 0 and Decimal(details["prompt"]) > 0 and Decimal(details["completion"]) > 0
    assert_receipt_matches_ledger(usage, response.headers["X-Request-Id"], response.headers["X-EtherGate-Cost"])


def test_an_estimated_answer_says_so_and_prices_the_estimate_coherently(live_server, tenant, client):
    response = call(live_server, tenant.plaintext, {"model": QWEN, "messages": say(CJK_PROMPT, no_usage=True),
                                                    "max_tokens": 500})
    usage = response.json()["usage"]
    # The estimate is 1 token per 3 prompt bytes (~48,000 here): the tier of the estimate, not of the byte bound.
    assert usage["cost_details"]["estimated"] is True and usage["cost_details"]["price_source"] == "tier<=131072"
    assert 48_000 <= usage["prompt_tokens"] < 49_000
    entry = assert_receipt_matches_ledger(usage, response.headers["X-Request-Id"], response.headers["X-EtherGate-Cost"])
    assert entry.estimated and entry.pricing["tier_prompt_tokens"] == usage["prompt_tokens"]

    streamed = client.chat.completions.with_raw_response.create(
        model=QWEN, messages=say("hi", no_usage=True), stream=True, stream_options={"include_usage": True})
    chunks = list(streamed.parse())
    assert all(chunk.usage is None for chunk in chunks)  # no usage from the provider: no usage chunk to add to
    row = log_row(streamed.headers["X-Request-Id"])
    assert row.estimated and row.cost_micro == -entry_of(streamed.headers["X-Request-Id"]).amount_micro
