"""Each provider's usage shape reaches the SDK as OpenAI's, streamed or not, and is what the ledger bills."""
import pytest

from .e2e import ledger_invariant, live_server, log_row, say  # noqa: F401

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant

MODELS = {"deepseek": "deepseek/deepseek-v4-flash", "qwen": "qwen/qwen-plus", "moonshot": "moonshot/kimi-k2.6"}
REPORTED = {"prompt_tokens": 120, "completion_tokens": 50, "cached_tokens": 80, "reasoning_tokens": 30}


def test_usage_with_cached_and_reasoning_tokens_is_normalised(client):
    for provider, model in MODELS.items():
        messages = say("hi", usage=REPORTED, reasoning="Let me think about it.")
        raw = client.chat.completions.with_raw_response.create(model=model, messages=messages)
        plain = raw.parse().usage
        streamed_raw = client.chat.completions.with_raw_response.create(
            model=model, messages=messages, stream=True, stream_options={"include_usage": True})
        streamed = list(streamed_raw.parse())[-1].usage
        for usage, response in ((plain, raw), (streamed, streamed_raw)):
            assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (120, 50, 170), provider
            assert usage.prompt_tokens_details.cached_tokens == 80, provider
            # Moonshot reports no reasoning breakdown, so zero is the honest figure there.
            assert usage.completion_tokens_details.reasoning_tokens == (0 if provider == "moonshot" else 30)
            row = log_row(response.headers["X-Request-Id"])
            assert (row.prompt_tokens, row.completion_tokens, row.cached_tokens) == (120, 50, 80), provider
            assert not row.estimated and row.cost_micro > 0 and row.provider == provider


def test_cached_tokens_are_billed_at_the_cache_price(client):
    model = MODELS["qwen"]
    fresh = client.chat.completions.with_raw_response.create(
        model=model, messages=say("hi", usage={**REPORTED, "cached_tokens": 0}))
    cached = client.chat.completions.with_raw_response.create(
        model=model, messages=say("hi", usage={**REPORTED, "cached_tokens": 120}))
    assert log_row(cached.headers["X-Request-Id"]).cost_micro < log_row(fresh.headers["X-Request-Id"]).cost_micro


def test_reasoning_content_is_relayed(client):
    completion = client.chat.completions.create(model=MODELS["deepseek"],
                                                messages=say("hi", reasoning="First, the sky."))
    assert completion.choices[0].message.model_extra["reasoning_content"] == "First, the sky."
    chunks = list(client.chat.completions.create(model=MODELS["deepseek"], stream=True,
                                                 messages=say("hi", reasoning="First, the sky.")))
    thought = "".join(c.choices[0].delta.model_extra.get("reasoning_content") or "" for c in chunks if c.choices)
    assert thought == "First, the sky."
