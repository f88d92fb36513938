"""Billing one /v1 request: price what the provider reported, resolve the hold once, write the log row once,
and hand the client a receipt whose numbers are the ledger entry's.

The hold is a bound taken before the call (prompt bytes, the output cap, the dearest tier the prompt could
fall in). The capture prices the provider's reported tokens: the tier by the real prompt tokens, the time
window by the moment the request was received. A capture that cannot be written is recorded on the hold
for the sweep to post; if not even that can be written, it is logged with every number and counted.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from ..billing import ledger
from ..billing.pricing import PER_TOKENS, AppliedPrices, cost_parts, prices_for, usage_cost
from ..money import MICRO
from ..observability.metrics import record_over_hold, record_owed_capture
from ..usage.recorder import INSERT_LOG, record_request
from .admission import record_tokens
from .providers.adapters import estimate_completion_tokens
from .providers.usage import Usage

log = logging.getLogger("ethergate.billing")


def _exact(amount: int) -> str:
    """micro-units x PER_TOKENS as a decimal string of currency: at least 6 places, more only if needed."""
    whole, fraction = divmod(amount, MICRO * PER_TOKENS)
    return f"{whole}.{f'{fraction:012d}'.rstrip('0').ljust(6, '0')}"


def _price(micro_per_tokens: int) -> str:
    """A unit price (micro-units per PER_TOKENS tokens) as a decimal string of currency."""
    return _exact(micro_per_tokens * PER_TOKENS)


@dataclass(frozen=True)
class Receipt:
    """What one request costs: the tokens billed, the prices applied, the exact parts and the total."""
    usage: Usage
    prices: AppliedPrices
    estimated: bool
    cost: int           # micro-units: the parts summed, rounded up once (an estimate: at most the hold)
    capped: bool        # an estimate above the hold, billed at the hold
    hold: int
    received_at: datetime

    @classmethod
    def of(cls, usage: Usage, prices: AppliedPrices, estimated: bool, hold: int, received_at: datetime) -> "Receipt":
        cost = usage_cost(usage, prices)
        capped = estimated and cost > hold  # an estimate never bills beyond what was held
        return cls(usage, prices, estimated, hold if capped else cost, capped, hold, received_at)

    @property
    def over_hold(self) -> bool:
        return self.cost > self.hold

    @property
    def cost_text(self) -> str:
        whole, fraction = divmod(self.cost, MICRO)
        return f"{whole}.{fraction:06d}"

    def pricing(self, currency: str) -> dict:
        """The ledger entry's `pricing`: the prices applied, and what chose them."""
        stored = self.prices.to_dict(currency)
        stored.update(priced_at=self.received_at.isoformat(), tier_prompt_tokens=self.usage.prompt_tokens,
                      hold_micro=self.hold, capped_at_hold=self.capped)
        return stored

    def usage_fields(self, currency: str) -> dict:
        """`usage.cost` and `usage.cost_details` for the client, in the workspace currency."""
        prompt, cached, completion = cost_parts(self.usage, self.prices)
        prices = self.prices
        unit_prices = {"input": _price(prices.input_micro), "cached_input": _price(prices.cached_input_micro),
                       "output": _price(prices.output_micro), "per_tokens": PER_TOKENS}
        return {"cost": self.cost_text, "cost_details": {
            "currency": currency, "prompt": _exact(prompt), "cached": _exact(cached), "completion": _exact(completion),
            "unit_prices": unit_prices, "price_source": prices.source, "estimated": self.estimated,
            "capped_at_hold": self.capped}}


class Billing:
    """Resolves this request's hold exactly once and writes its log row in the same transaction."""

    def __init__(self, charge, hold_id: int, hold_amount: int, model, received_at: datetime, prompt_bound: int):
        self.charge = charge
        self.hold_id, self.hold_amount, self.model = hold_id, hold_amount, model
        self.received_at, self.prompt_bound = received_at, prompt_bound
        self.currency = current_app.config["CURRENCY"]
        self.resolved = False
        self.streaming = False  # set by the relay that owns the hold from then on

    def estimate(self, completion_chars: int) -> Usage:
        # Stated estimate: one prompt token per 3 bytes of prompt, and the adapter's rule for output.
        return Usage(prompt_tokens=math.ceil(self.prompt_bound / 3),
                     completion_tokens=estimate_completion_tokens(completion_chars))

    def price(self, usage: Usage, estimated: bool) -> Receipt:
        """The prices for these tokens: tier by the (reported or estimated) prompt tokens, window at receipt."""
        prices = prices_for(self.model, usage.prompt_tokens, self.received_at)
        return Receipt.of(usage, prices, estimated, self.hold_amount, self.received_at)

    def _row(self, usage: Usage | None, status_code: int, **fields) -> dict:
        return self.charge.row(status_code, usage, **fields)

    def capture(self, receipt: Receipt, **fields) -> int:
        """Bill the receipt; never raises for the ledger (a capture that cannot be written is owed)."""
        self.resolved = True
        usage = receipt.usage
        self.charge.receipt = receipt
        row = self._row(usage, cost_micro=receipt.cost, estimated=receipt.estimated, **fields)
        refs = dict(request_id=row["request_id"], model_id=self.model.id, provider=fields.get("provider"),
                    prompt_tokens=usage.prompt_tokens, cached_tokens=usage.cached_tokens,
                    completion_tokens=usage.completion_tokens, reasoning_tokens=usage.reasoning_tokens,
                    estimated=receipt.estimated, over_hold=receipt.over_hold)
        pricing = receipt.pricing(self.currency)
        if receipt.over_hold:
            record_over_hold(self.model.id)
            log.warning("request %s cost %d micro, more than its hold of %d: billed as metered",
                        row["request_id"], receipt.cost, receipt.hold)
        try:
            ledger.capture(self.hold_id, receipt.cost, also_insert=(INSERT_LOG, row), pricing=pricing, **refs)
        except Exception:  # noqa: BLE001 (the provider was paid: what the client owes is recorded for the sweep)
            log.exception("capture of request %s failed; recording it as owed", row["request_id"])
            self._owe(receipt, refs, pricing, row)
        record_tokens(self.charge.key, usage.total_tokens)
        return receipt.cost

    def _owe(self, receipt: Receipt, refs: dict, pricing: dict, row: dict) -> None:
        try:
            if ledger.mark_capture_due(self.hold_id, receipt.cost, refs, pricing, also_insert=(INSERT_LOG, row)):
                record_owed_capture("owed")
            return
        except Exception:  # noqa: BLE001
            record_owed_capture("lost")
            log.exception("request %s owes %d micro on hold %s and it could not be recorded: usage %s, prices %s",
                          row["request_id"], receipt.cost, self.hold_id, refs, pricing)
        try:
            record_request(row)
        except Exception:  # noqa: BLE001 (already logged above with every number)
            log.exception("request log write failed")

    def void(self, with_row: bool = True, **fields) -> None:
        """Release the hold in full; with its log row unless the request already wrote one."""
        self.resolved = True
        row = self._row(None, **fields)
        try:
            ledger.void(self.hold_id, also_insert=(INSERT_LOG, row) if with_row else None)
        except Exception:  # noqa: BLE001 (the sweep releases the hold when it expires)
            log.exception("voiding hold %s of request %s failed", self.hold_id, row["request_id"])
            if not with_row:
                return
            try:
                record_request(row)
            except Exception:  # noqa: BLE001
                log.exception("request log write failed")
