"""Staff forms: a signed balance adjustment and a redemption code (both need a note saying why), incident notes."""
from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..money import AmountError, parse_amount
from ..settings import PROVIDERS

MAX_NOTE = 500
MAX_EXPIRY_DAYS = 3650


def new_submission_key() -> str:
    return secrets.token_urlsafe(16)


class AdjustmentForm(FlaskForm):
    amount = StringField(_l("Amount"), validators=[DataRequired(_l("Enter an amount."))],
                         description=_l("Signed: 5.00 adds credit, -5.00 takes it away."))
    note = StringField(_l("Note"), validators=[
        DataRequired(_l("Say why: the note is kept on the ledger entry and in the audit log.")),
        Length(max=MAX_NOTE)])
    # One key per rendered form: a double-submitted adjustment is posted once (grants.adjust replays it).
    submission = HiddenField(default=new_submission_key)

    amount_micro: int = 0

    def validate_amount(self, field) -> None:
        try:
            self.amount_micro = parse_amount(field.data or "", allow_negative=True)
        except AmountError:
            raise ValidationError(_l("Enter a non-zero amount such as 12.50 or -3.20, "
                                     "with at most 6 decimal places.")) from None


class CodeForm(FlaskForm):
    amount = StringField(_l("Amount"), validators=[DataRequired(_l("Enter an amount."))])
    note = StringField(_l("Note"), validators=[
        DataRequired(_l("Say what the code is for; only staff see this note.")), Length(max=MAX_NOTE)])
    description = StringField(_l("Description for the customer"), validators=[Optional(), Length(max=MAX_NOTE)],
                              description=_l("Shown on the redeeming workspace's ledger, e.g. “Webinar credits”."))
    expires_in_days = IntegerField(_l("Expires in (days)"), validators=[
        Optional(), NumberRange(min=1, max=MAX_EXPIRY_DAYS,
                                message=_l("Between 1 and %(max)s days.", max=MAX_EXPIRY_DAYS))],
        description=_l("Leave empty for a code that never expires."))

    amount_micro: int = 0

    def validate_amount(self, field) -> None:
        try:
            self.amount_micro = parse_amount(field.data or "")
        except AmountError:
            raise ValidationError(_l("Enter a positive amount such as 50 or 12.50, "
                                     "with at most 6 decimal places.")) from None


class IncidentForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the incident a title.")), Length(max=200)],
                        description=_l("Public: shown on the status page as written."))
    body = TextAreaField(_l("What users see"), validators=[Length(max=4000)])
    provider = SelectField(_l("Affects"), choices=[("", _l("the whole gateway"))] + [(p, p) for p in PROVIDERS])


class ResolveForm(FlaskForm):
    resolution = TextAreaField(_l("Resolution note"), validators=[Length(max=4000)],
                               description=_l("Public, optional: what was wrong and what was done."))
