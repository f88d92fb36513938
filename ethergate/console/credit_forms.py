"""The Credits page's forms: redeem a code, and pay by card through the configured provider."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ..money import MICRO, AmountError, parse_amount

MIN_CHECKOUT_MICRO = 1 * MICRO
MAX_CHECKOUT_MICRO = 100_000 * MICRO
# "1,000" and "12,500.50" as people type them; "1,00" is refused, since elsewhere the comma is a decimal point.
GROUPED = re.compile(r"^\d{1,3}(?:[,，]\d{3})+(?:\.\d+)?$")
CURRENCY_SIGNS = "¥￥$€£"


def typed_amount(text: str | None) -> str:
    """What a person typed, as parse_amount reads it: no currency sign, spaces or thousands separators."""
    raw = (text or "").strip().lstrip(CURRENCY_SIGNS).strip().replace(" ", "")
    return re.sub(r"[,，]", "", raw) if GROUPED.match(raw) else raw


class RedeemForm(FlaskForm):
    code = StringField(_l("Redemption code"), validators=[
        DataRequired(_l("Enter the code, for example EG-XXXX-XXXX-XXXX-XXXX.")), Length(max=64)])


class CheckoutForm(FlaskForm):
    amount = StringField(_l("Amount"), validators=[DataRequired(_l("Enter an amount.")), Length(max=24)])

    @property
    def amount_micro(self) -> int:
        return parse_amount(typed_amount(self.amount.data))

    def validate_amount(self, field) -> None:
        try:
            micro = parse_amount(typed_amount(field.data))
        except AmountError:
            raise ValidationError(_l("Enter an amount such as 50, 1,000 or 12.50.")) from None
        if not MIN_CHECKOUT_MICRO <= micro <= MAX_CHECKOUT_MICRO:
            raise ValidationError(_l("Enter an amount from 1 to 100,000."))
