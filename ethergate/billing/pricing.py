"""The pricing engine: which prices apply to a request, what it costs, and how much to hold for it.

Pure functions over the catalog snapshot; nothing here touches the database. Prices are integer
micro-units per 1,000,000 tokens, costs are integer micro-units, rounded up once per request.

Price selection for a request:

* a model has either one "base" row or several "tier" rows, chosen by prompt length: the first tier
  (by `up_to` ascending) with `prompt_tokens <= up_to`, the unbounded tier (`up_to` None) last;
* "window" rows are time-of-day prices ("HH:MM" start inclusive, end exclusive, in the row's IANA
  time zone, possibly wrapping midnight), on the row's weekdays, skipping its holiday calendar's
  holidays and adding its make-up working days. When the request time falls inside a window, the window's
  prices replace the base or tier prices entirely, even on a tiered model: providers publish peak /
  off-peak prices as flat prices, so a window is not scaled per tier.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..catalog.snapshot import ModelInfo, PriceRow

PER_TOKENS = 1_000_000


class PricingError(ValueError):
    pass


@dataclass(frozen=True)
class AppliedPrices:
    input_micro: int          # per 1M cache-miss prompt tokens
    cached_input_micro: int   # per 1M cache-hit prompt tokens
    output_micro: int         # per 1M completion tokens (reasoning included)
    source: str               # "base", "tier<=131072", "tier>262144", "window peak"

    def to_dict(self, currency: str) -> dict:
        """The prices as stored on a ledger entry, so its cost can be recomputed after a price change."""
        return {"input_micro": self.input_micro, "cached_input_micro": self.cached_input_micro,
                "output_micro": self.output_micro, "per_tokens": PER_TOKENS, "source": self.source,
                "currency": currency}


def _applied(row: PriceRow, source: str) -> AppliedPrices:
    return AppliedPrices(row.input_micro, row.cached_input_micro, row.output_micro, source)


def _tiers(model: ModelInfo) -> list[PriceRow]:
    tiers = [p for p in model.prices if p.kind == "tier"]
    # Bounded tiers ascending, the unbounded one last.
    return sorted(tiers, key=lambda p: (p.up_to is None, p.up_to or 0))


def _tier_for(tiers: list[PriceRow], prompt_tokens: int) -> AppliedPrices:
    previous = 0
    for tier in tiers:
        if tier.up_to is None or prompt_tokens <= tier.up_to:
            return _applied(tier, f"tier<={tier.up_to}" if tier.up_to is not None else f"tier>{previous}")
        previous = tier.up_to
    # Past the last bound with no unbounded tier: the top tier, never a cheaper one.
    return _applied(tiers[-1], f"tier>{previous}")


def _standing_prices(model: ModelInfo, prompt_tokens: int) -> AppliedPrices:
    tiers = _tiers(model)
    if tiers:
        return _tier_for(tiers, prompt_tokens)
    for row in model.prices:
        if row.kind == "base":
            return _applied(row, "base")
    raise PricingError(f"model {model.id} has no base or tier prices")


def _parse_hhmm(value: str | None, model_id: str) -> time:
    try:
        hours, minutes = (value or "").split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise PricingError(f"model {model_id}: bad window time {value!r}") from None


def _local(at: datetime, tz_name: str | None, model_id: str) -> datetime:
    try:
        zone = ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise PricingError(f"model {model_id}: unknown time zone {tz_name!r}") from None
    moment = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at
    return moment.astimezone(zone).replace(tzinfo=None)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def window_applies_on(row: PriceRow, day: date) -> bool:
    """Whether the window runs on this local day: its calendar's holidays are off and its make-up working
    days count as working days; otherwise the window's weekdays (every day when it names none)."""
    calendar = row.window_calendar
    if calendar is not None:
        if day in calendar.holidays:
            return False
        if day in calendar.workdays:
            return True
    return row.window_days is None or WEEKDAYS[day.weekday()] in row.window_days.split(",")


def in_window(row: PriceRow, at: datetime, model_id: str = "?") -> bool:
    """Whether `at` (naive UTC) falls in the window; start inclusive, end exclusive, start == end is all day.

    A window that wraps midnight belongs to the day it started on: 01:00 on Saturday is Friday's window.
    """
    start, end = _parse_hhmm(row.window_start, model_id), _parse_hhmm(row.window_end, model_id)
    local = _local(at, row.window_tz, model_id)
    clock, day = local.time(), local.date()
    if start == end:
        inside = True
    elif start < end:
        inside = start <= clock < end
    else:
        inside = clock >= start or clock < end
        if clock < end:
            day -= timedelta(days=1)
    return inside and window_applies_on(row, day)


# Window bounds are whole minutes of whole-minute UTC offsets, so which window applies changes only on a
# minute: every request in the same minute shares one answer per model (priced three times per request).
_WINDOW_MINUTES: dict[tuple[int, datetime], tuple[ModelInfo, AppliedPrices | None]] = {}
_WINDOW_MINUTES_MAX = 4096


def _window_for(model: ModelInfo, at: datetime) -> AppliedPrices | None:
    if not any(row.kind == "window" for row in model.prices):
        return None
    minute = at.replace(second=0, microsecond=0)
    key = (id(model), minute)
    found = _WINDOW_MINUTES.get(key)
    if found is not None and found[0] is model:  # the id of a model gone from the catalog may be reused
        return found[1]
    applied = _window_at(model, minute)
    if len(_WINDOW_MINUTES) >= _WINDOW_MINUTES_MAX:
        _WINDOW_MINUTES.clear()
    _WINDOW_MINUTES[key] = (model, applied)
    return applied


def _window_at(model: ModelInfo, at: datetime) -> AppliedPrices | None:
    matching = [row for row in model.prices if row.kind == "window" and in_window(row, at, model.id)]
    if not matching:
        return None
    # Overlapping windows are a catalog mistake; charging the dearer one never under-bills.
    row = max(matching, key=lambda r: (r.output_micro, r.input_micro, r.cached_input_micro))
    return _applied(row, f"window {row.window_name or 'window'}")


def prices_for(model: ModelInfo, prompt_tokens: int, at: datetime) -> AppliedPrices:
    """The prices for a request of `prompt_tokens` started at `at` (naive UTC)."""
    if not model.prices:
        raise PricingError(f"model {model.id} has no prices; it cannot be billed")
    standing = _standing_prices(model, max(0, prompt_tokens))
    return _window_for(model, at) or standing


def _tokens(usage: Any, name: str) -> int:
    value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
    return max(0, int(value or 0))


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def cost_parts(usage: Any, prices: AppliedPrices) -> tuple[int, int, int]:
    """(cache-miss prompt, cache-hit prompt, completion) amounts, exact, in micro-units x PER_TOKENS.

    Cached tokens are part of the prompt and reasoning tokens are part of the completion, so each
    token is billed exactly once: cache misses at the input price, cache hits at the cached price,
    all completion tokens (reasoning included) at the output price.
    """
    prompt = _tokens(usage, "prompt_tokens")
    cached = min(_tokens(usage, "cached_tokens"), prompt)
    # A provider reporting reasoning > completion broke the subset rule; bill the larger count once.
    output = max(_tokens(usage, "completion_tokens"), _tokens(usage, "reasoning_tokens"))
    return ((prompt - cached) * prices.input_micro, cached * prices.cached_input_micro,
            output * prices.output_micro)


def usage_cost(usage: Any, prices: AppliedPrices) -> int:
    """The cost in micro-units of one request's usage: the exact parts summed, rounded up once."""
    return max(0, _ceil_div(sum(cost_parts(usage, prices)), PER_TOKENS))


def _bound_rates(model: ModelInfo, prompt_tokens_bound: int, at: datetime) -> tuple[AppliedPrices, int, int]:
    """The applied prices plus per-token rates that no request within the bound can exceed."""
    applied = prices_for(model, prompt_tokens_bound, at)
    candidates = [applied]
    if _window_for(model, at) is None:
        # A shorter real prompt lands in a lower tier; guard against a catalog whose tiers are not ascending.
        candidates += [_applied(t, "tier") for t in _tiers(model)
                       if t.up_to is not None and t.up_to < prompt_tokens_bound]
    input_rate = max(max(c.input_micro, c.cached_input_micro) for c in candidates)
    output_rate = max(c.output_micro for c in candidates)
    return applied, input_rate, output_rate


def max_cost(model: ModelInfo, prompt_tokens_bound: int, output_cap: int, at: datetime) -> tuple[int, AppliedPrices]:
    """The most a request can cost: every prompt token a cache miss, `output_cap` completion tokens."""
    prompt, output = max(0, prompt_tokens_bound), max(0, output_cap)
    applied, input_rate, output_rate = _bound_rates(model, prompt, at)
    return _ceil_div(prompt * input_rate + output * output_rate, PER_TOKENS), applied


def output_cap_for(model: ModelInfo, requested: int | None) -> tuple[int, bool]:
    """(the output-token cap that bounds the hold, whether the gateway must send it upstream).

    The client's max_tokens when given, clamped to the model's limit (the clamped value must then be
    sent, since the provider refuses a cap above its limit); otherwise the model's default_max_tokens,
    which only bounds the hold if the gateway sends it, hence the flag; otherwise the model's own
    output limit, which the upstream enforces by itself.
    """
    if requested is not None:
        if requested < 1:
            raise PricingError("max_tokens must be at least 1")
        return min(requested, model.max_output_tokens), requested > model.max_output_tokens
    if model.default_max_tokens:
        return min(model.default_max_tokens, model.max_output_tokens), True
    return model.max_output_tokens, False


def affordable_max_tokens(model: ModelInfo, prompt_tokens_bound: int, available_micro: int,
                          at: datetime) -> int | None:
    """The largest max_tokens whose hold (`max_cost`) fits in `available_micro`; None if not even 1 does."""
    prompt = max(0, prompt_tokens_bound)
    _applied_prices, input_rate, output_rate = _bound_rates(model, prompt, at)
    # ceil(x / M) <= available  <=>  x <= available * M, for whole numbers.
    budget = available_micro * PER_TOKENS - prompt * input_rate
    if budget < 0:
        return None
    tokens = model.max_output_tokens if output_rate == 0 else min(budget // output_rate, model.max_output_tokens)
    return tokens if tokens >= 1 else None
