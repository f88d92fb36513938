"""Money is integer micro-units (1 unit of currency = 1,000,000 micro)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

MICRO = 1_000_000
SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$", "SGD": "S$"}


class AmountError(ValueError):
    pass


def parse_amount(text: str, allow_negative: bool = False, allow_zero: bool = False) -> int:
    """'12.50' -> 12_500_000. At most six decimal places; no exponents, no thousands separators."""
    raw = str(text).strip()
    if not raw or any(c in raw for c in "eE_,") or raw.lower() in ("nan", "inf", "-inf", "infinity"):
        raise AmountError(f"not a decimal amount: {text!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise AmountError(f"not a decimal amount: {text!r}") from None
    if not value.is_finite():
        raise AmountError(f"not a decimal amount: {text!r}")
    micro = value * MICRO
    if micro != micro.to_integral_value():
        raise AmountError(f"at most 6 decimal places: {text!r}")
    result = int(micro)
    if result < 0 and not allow_negative:
        raise AmountError(f"amount must be positive: {text!r}")
    if result == 0 and not allow_zero:
        raise AmountError(f"amount must not be zero: {text!r}")
    if abs(result) >= 10 ** 17:
        raise AmountError(f"amount too large: {text!r}")
    return result


def to_decimal(micro: int) -> Decimal:
    return Decimal(micro) / MICRO


def format_plain(micro: int, places: int = 2) -> str:
    """Decimal text with at least `places` decimals, more when needed to stay exact."""
    value = to_decimal(micro)
    text = f"{value:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    frac = frac.ljust(places, "0")
    return f"{whole}.{frac}" if frac else whole


def symbol(currency: str) -> str:
    return SYMBOLS.get(currency, currency + " ")
