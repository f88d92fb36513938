"""How the console writes times and money: one time format, always with its zone, and short amounts.

Times are stored as naive UTC and shown as `2026-12-06 03:20 UTC` (ISO order reads the same in every
language). Amounts on overview pages show 2 to 4 decimals (`money`); receipts and the ledger keep every
micro-unit (`money_exact`), so a statement still adds up to the balance.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_decimal
from flask import Flask, current_app
from flask_babel import get_locale

from ...i18n import format_money
from ...money import MICRO, symbol
from ...usage.models import API_SURFACES

SHORT_PLACES = 4
SMALLEST_SHOWN = MICRO // 10 ** SHORT_PLACES  # below this a non-zero amount reads "<¥0.0001"


def when(moment: datetime | None, seconds: bool = False, zone: bool = True) -> str:
    """`2026-12-06 03:20 UTC`; zone=False where the column header already says UTC."""
    if moment is None:
        return ""
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} UTC" if zone else text


def day(value: date | datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else ""


def short_money(micro: int, currency: str | None = None) -> str:
    """2 to 4 decimals, rounded half up; a non-zero amount too small to show reads `<¥0.0001`."""
    currency = currency or current_app.config["CURRENCY"]
    sign = "-" if micro < 0 else ""
    if 0 < abs(micro) < SMALLEST_SHOWN // 2:
        return f"<{sign}{symbol(currency)}0.0001"
    value = (Decimal(abs(micro)) / MICRO).quantize(Decimal(1).scaleb(-SHORT_PLACES), rounding=ROUND_HALF_UP)
    amount = format_decimal(value, format="#,##0.00##", locale=get_locale() or "en")
    return f"{sign}{symbol(currency)}{amount}"


def api_surface(name: str | None) -> str:
    """A request's API surface as its vendor names it (`Messages`); "—" for /v1 calls outside the three."""
    return API_SURFACES.get(name, name) if name else "—"


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(when=when, day=day, money=short_money, money_exact=format_money,
                                 api_surface=api_surface)
