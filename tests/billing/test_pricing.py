"""The pricing engine: tiers, time windows, cache and reasoning tokens, rounding, and hold bounds."""
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest

from ethergate.billing.pricing import (AppliedPrices, PricingError, affordable_max_tokens, max_cost,
                                       output_cap_for, prices_for, usage_cost)
from ethergate.catalog.snapshot import ModelInfo, PriceRow, get_snapshot

OFF_PEAK = datetime(2026, 11, 2, 12, 0)  # a Monday, 20:00 Beijing time
PEAK = datetime(2026, 11, 2, 2, 30)      # 10:30 Beijing time


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0


def row(kind="base", up_to=None, prices=(1_000_000, 100_000, 2_000_000), start=None, end=None, tz=None,
        name=None) -> PriceRow:
    return PriceRow(kind, up_to, name or (kind if kind == "window" else None), start, end, tz, *prices)


def synthetic(*prices: PriceRow, max_output=8192, default_max=None) -> ModelInfo:
    return ModelInfo(id="test/model", name="Test", description=None, context_window=131072,
                     max_output_tokens=max_output, default_max_tokens=default_max, capabilities=frozenset(),
                     fixed_temperature=None, max_n=None, unsupported_params=frozenset(), upstream_params=None,
                     routes=(), prices=tuple(prices), aliases=(), released=None)


@pytest.fixture
def catalog(app):
    return get_snapshot(force=True)


def test_qwen_plus_tiers_by_prompt_length(catalog):
    model = catalog.resolve("qwen/qwen-plus")
    assert prices_for(model, 1, OFF_PEAK) == AppliedPrices(800_000, 160_000, 2_000_000, "tier<=131072")
    assert prices_for(model, 131_072, PEAK).source == "tier<=131072"
    assert prices_for(model, 131_073, PEAK) == AppliedPrices(2_400_000, 480_000, 20_000_000, "tier<=262144")
    assert prices_for(model, 262_144, PEAK).source == "tier<=262144"
    assert prices_for(model, 262_145, PEAK) == AppliedPrices(4_800_000, 960_000, 48_000_000, "tier>262144")


def test_qwen_plus_cost_with_cache_hits_rounds_up_once(catalog):
    model = catalog.resolve("qwen/qwen-plus")
    usage = Usage(prompt_tokens=131_072, cached_tokens=100_000, completion_tokens=1_000)
    # 31,072 x 0.80 + 100,000 x 0.16 + 1,000 x 2.00 per 1M = 42,857.6 micro, rounded up.
    assert usage_cost(usage, prices_for(model, 131_072, OFF_PEAK)) == 42_858
    usage = Usage(prompt_tokens=200_000, cached_tokens=50_000, completion_tokens=10_000)
    # 150,000 x 2.40 + 50,000 x 0.48 + 10,000 x 20.00 = 360,000 + 24,000 + 200,000 micro exactly.
    assert usage_cost(usage, prices_for(model, 200_000, OFF_PEAK)) == 584_000


@pytest.mark.parametrize("at,peak", [
    (datetime(2026, 11, 2, 0, 59, 59), False), (datetime(2026, 11, 2, 1, 0), True),
    (datetime(2026, 11, 2, 3, 59, 59), True), (datetime(2026, 11, 2, 4, 0), False),
    (datetime(2026, 11, 2, 5, 59), False), (datetime(2026, 11, 2, 6, 0), True),
    (datetime(2026, 11, 2, 9, 59, 59), True), (datetime(2026, 11, 2, 10, 0), False),
])
def test_deepseek_peak_windows(catalog, at, peak):
    model = catalog.resolve("deepseek/deepseek-v4-flash")
    prices = prices_for(model, 1000, at)
    if peak:
        assert prices == AppliedPrices(2_000_000, 40_000, 8_000_000, "window peak")
    else:
        assert prices == AppliedPrices(1_000_000, 20_000, 4_000_000, "base")


def test_deepseek_usage_shape_peak_is_twice_off_peak(catalog):
    model = catalog.resolve("deepseek/deepseek-v4-flash")
    # DeepSeek: prompt_tokens includes prompt_cache_hit_tokens; reasoning_tokens are inside completion_tokens.
    usage = Usage(prompt_tokens=10_000, cached_tokens=8_000, completion_tokens=2_000, reasoning_tokens=1_500)
    # 2,000 x 2.00 + 8,000 x 0.04 + 2,000 x 8.00 = 4,000 + 320 + 16,000 micro.
    assert usage_cost(usage, prices_for(model, 10_000, PEAK)) == 20_320
    assert usage_cost(usage, prices_for(model, 10_000, OFF_PEAK)) == 10_160


def test_moonshot_usage_shape_exact_and_rounding(catalog):
    model = catalog.resolve("moonshot/kimi-k2.6")
    prices = prices_for(model, 1234, PEAK)
    assert prices.source == "base"
    # 234 x 6.50 + 1,000 x 1.10 + 77 x 27.00 = 1,521 + 1,100 + 2,079 micro.
    assert usage_cost(Usage(1234, 77, cached_tokens=1000), prices) == 4_700
    assert usage_cost(Usage(1, 0), prices) == 7  # 6.5 micro rounds up
    assert usage_cost(Usage(0, 0), prices) == 0


def test_reasoning_tokens_are_billed_once():
    prices = AppliedPrices(1_000_000, 100_000, 3_000_000, "base")
    plain = usage_cost(Usage(100, 2000), prices)
    assert usage_cost(Usage(100, 2000, reasoning_tokens=1500), prices) == plain == 6_100
    # Inconsistent upstream numbers (reasoning > completion) still bill each token once, never less.
    assert usage_cost(Usage(100, 1000, reasoning_tokens=2000), prices) == plain


def test_usage_cost_never_negative_and_accepts_dicts():
    prices = AppliedPrices(1_000_000, 100_000, 3_000_000, "base")
    assert usage_cost(Usage(-5, -3, cached_tokens=-1), prices) == 0
    # Cached above prompt is a provider error: never bill a negative cache-miss count.
    assert usage_cost(Usage(10, 0, cached_tokens=50), prices) == 1
    assert usage_cost({"prompt_tokens": 1_000_000, "completion_tokens": None}, prices) == 1_000_000


def test_window_wrapping_midnight_in_its_time_zone():
    night = row("window", prices=(500_000, 50_000, 1_000_000), start="22:00", end="06:00",
                tz="Asia/Shanghai", name="night")
    model = synthetic(row(), night)
    # 22:00-06:00 Beijing time is 14:00-22:00 UTC.
    cases = {(13, 59): "base", (14, 0): "window night", (16, 0): "window night", (21, 59): "window night",
             (22, 0): "base", (3, 0): "base"}
    for (hour, minute), source in cases.items():
        assert prices_for(model, 10, datetime(2026, 3, 1, hour, minute)).source == source, (hour, minute)


def test_window_overrides_tiers_and_no_prices_is_an_error():
    model = synthetic(row("tier", 1000, (1, 1, 1)), row("tier", None, (9, 9, 9)),
                      row("window", prices=(5, 5, 5), start="00:00", end="12:00", tz="UTC"))
    assert prices_for(model, 5000, datetime(2026, 1, 1, 11, 59)).output_micro == 5
    assert prices_for(model, 5000, datetime(2026, 1, 1, 12, 0)) == AppliedPrices(9, 9, 9, "tier>1000")
    with pytest.raises(PricingError, match="no prices"):
        prices_for(synthetic(), 10, OFF_PEAK)
    with pytest.raises(PricingError, match="no base or tier"):
        prices_for(synthetic(row("window", start="00:00", end="01:00", tz="UTC")), 10, OFF_PEAK)


def test_applied_prices_are_stored_with_currency():
    stored = AppliedPrices(800_000, 160_000, 2_000_000, "tier<=131072").to_dict("CNY")
    assert stored == {"input_micro": 800_000, "cached_input_micro": 160_000, "output_micro": 2_000_000,
                      "per_tokens": 1_000_000, "source": "tier<=131072", "currency": "CNY"}


def test_output_cap(catalog):
    qwen, flash = catalog.resolve("qwen/qwen-plus"), catalog.resolve("deepseek/deepseek-v4-flash")
    assert output_cap_for(qwen, None) == (32_768, False)
    assert output_cap_for(flash, None) == (32_768, True)
    assert output_cap_for(flash, 100) == (100, False)
    assert output_cap_for(flash, 10**9) == (393_216, True)
    with pytest.raises(PricingError):
        output_cap_for(flash, 0)


def test_max_cost_is_all_cache_miss_plus_full_output(catalog):
    model = catalog.resolve("deepseek/deepseek-v4-pro")
    cost, prices = max_cost(model, 1000, 500, PEAK)
    assert prices.source == "window peak"
    assert cost == -(-(1000 * 9_000_000 + 500 * 27_000_000) // 1_000_000) == 22_500


def random_usage(rng, bound, cap):
    prompt = rng.randint(0, bound)
    completion = rng.randint(0, cap)
    return Usage(prompt, completion, cached_tokens=rng.randint(0, prompt),
                 reasoning_tokens=rng.randint(0, completion))


def test_max_cost_bounds_any_usage_within_it(catalog):
    rng = random.Random(20261102)
    odd_tiers = synthetic(row("tier", 100, (7_000_000, 9_000_000, 5_000_000)),
                          row("tier", None, (3_000_000, 1_000_000, 2_000_000)))
    models = list(catalog.models.values()) + [odd_tiers]
    for _ in range(3000):
        model = rng.choice(models)
        bound = rng.choice([rng.randint(0, 300), rng.randint(0, 400_000)])
        cap = rng.randint(0, model.max_output_tokens)
        at = datetime(2026, 11, 2) + timedelta(minutes=rng.randint(0, 7 * 24 * 60))
        hold, _ = max_cost(model, bound, cap, at)
        usage = random_usage(rng, bound, cap)
        actual = usage_cost(usage, prices_for(model, usage.prompt_tokens, at))
        assert actual <= hold, (model.id, bound, cap, at, usage)


@pytest.mark.parametrize("model_id,prompt,at", [
    ("qwen/qwen-plus", 150_000, OFF_PEAK), ("deepseek/deepseek-v4-flash", 3_333, PEAK),
    ("moonshot/kimi-k3", 77, OFF_PEAK),
])
def test_affordable_max_tokens_at_the_boundary(catalog, model_id, prompt, at):
    model = catalog.resolve(model_id)
    for available in (1, 50, 10_007, 123_456, 9_999_999):
        tokens = affordable_max_tokens(model, prompt, available, at)
        if tokens is None:
            assert max_cost(model, prompt, 1, at)[0] > available
            continue
        assert max_cost(model, prompt, tokens, at)[0] <= available
        assert tokens == model.max_output_tokens or max_cost(model, prompt, tokens + 1, at)[0] > available


def test_affordable_max_tokens_caps_at_the_model_limit_and_free_output():
    free_output = synthetic(row(prices=(1_000_000, 0, 0)), max_output=4096)
    assert affordable_max_tokens(free_output, 10, 10, OFF_PEAK) == 4096
    assert affordable_max_tokens(free_output, 11, 10, OFF_PEAK) is None
    cheap = synthetic(row(prices=(0, 0, 1_000_000)), max_output=4096)
    assert affordable_max_tokens(cheap, 10, 3, OFF_PEAK) == 3
    assert affordable_max_tokens(cheap, 10, 0, OFF_PEAK) is None
    assert affordable_max_tokens(replace(cheap, max_output_tokens=2), 10, 3, OFF_PEAK) == 2


def at_beijing(year, month, day, hour, minute=0, second=0) -> datetime:
    """A Beijing wall-clock time as the naive UTC the gateway prices with."""
    return datetime(year, month, day, hour, minute, second) - timedelta(hours=8)


@pytest.mark.parametrize("moment,peak", [
    # Window edges on an ordinary Friday, 2026-12-04: 09:00-12:00 and 14:00-18:00 Beijing time.
    (at_beijing(2026, 12, 4, 8, 59, 59), False), (at_beijing(2026, 12, 4, 9), True),
    (at_beijing(2026, 12, 4, 11, 59, 59), True), (at_beijing(2026, 12, 4, 12), False),
    (at_beijing(2026, 12, 4, 13, 59, 59), False), (at_beijing(2026, 12, 4, 14), True),
    (at_beijing(2026, 12, 4, 17, 59, 59), True), (at_beijing(2026, 12, 4, 18), False),
    # Friday to Saturday in Asia/Shanghai: Saturday starts at 16:00 UTC on Friday.
    (at_beijing(2026, 12, 5, 9), False), (at_beijing(2026, 12, 5, 14), False),
    # The request the issue names: 02:18 UTC on Sunday 2026-12-06 is 10:18 Sunday in Beijing.
    (datetime(2026, 12, 6, 2, 18), False), (at_beijing(2026, 12, 7, 10, 18), True),
    # National Day, Thursday 2026-10-01 to Wednesday 10-07, after an ordinary Wednesday.
    (at_beijing(2026, 9, 30, 17, 59, 59), True), (at_beijing(2026, 10, 1, 9), False),
    (at_beijing(2026, 10, 7, 15), False), (at_beijing(2026, 10, 8, 9), True),
    # Make-up working Saturday 2026-10-10 and Sunday 2026-09-20: peak in the windows, not outside.
    (at_beijing(2026, 10, 10, 8, 59, 59), False), (at_beijing(2026, 10, 10, 9), True),
    (at_beijing(2026, 10, 10, 17, 59, 59), True), (at_beijing(2026, 10, 10, 18), False),
    (at_beijing(2026, 9, 20, 10), True), (at_beijing(2026, 10, 17, 10), False),
    # Spring Festival's last day (a Monday) and the make-up Saturday after it.
    (at_beijing(2026, 2, 23, 10), False), (at_beijing(2026, 2, 24, 10), True), (at_beijing(2026, 2, 28, 10), True),
    # A year the calendar does not list yet: the weekdays alone.
    (at_beijing(2027, 1, 4, 10), True), (at_beijing(2027, 1, 2, 10), False),
])
def test_deepseek_peak_is_working_days_only(catalog, moment, peak):
    model = catalog.resolve("deepseek/deepseek-v4-flash")
    expected = (AppliedPrices(2_000_000, 40_000, 8_000_000, "window peak") if peak
                else AppliedPrices(1_000_000, 20_000, 4_000_000, "base"))
    assert prices_for(model, 1000, moment) == expected
    cost, applied = max_cost(model, 1000, 1000, moment)
    assert applied == expected and cost == 1000 * (expected.input_micro + expected.output_micro) // 1_000_000


def test_a_midnight_window_belongs_to_the_day_it_starts():
    night = replace(row("window", prices=(5, 5, 5), start="22:00", end="02:00", tz="Asia/Shanghai", name="night"),
                    window_days="mon,tue,wed,thu,fri")
    model = synthetic(row(), night)
    cases = {(2026, 12, 4, 23): True,    # Friday night
             (2026, 12, 5, 1): True,     # Saturday 01:00 is still Friday's window
             (2026, 12, 5, 2): False, (2026, 12, 5, 23): False, (2026, 12, 6, 1): False,
             (2026, 12, 7, 1): False,    # Monday 01:00 is Sunday's window
             (2026, 12, 7, 22): True}
    for when, inside in cases.items():
        source = prices_for(model, 10, at_beijing(*when)).source
        assert source == ("window night" if inside else "base"), when
