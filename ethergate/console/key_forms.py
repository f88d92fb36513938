"""The console's key form: name, limits, monthly spend cap, allowed models and expiry."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..catalog.snapshot import get_snapshot
from ..keys.models import ApiKey
from ..money import AmountError, format_plain, parse_amount
from ..timeutil import utcnow

MAX_RPM = 1_000_000
MAX_TPM = 1_000_000_000


class KeyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the key a name.")), Length(max=120)],
                       description=_l("Where the key is used, for example laptop or CI."))
    rpm_limit = IntegerField(_l("Requests per minute"), validators=[
        Optional(), NumberRange(min=1, max=MAX_RPM, message=_l("Enter a whole number from 1 to %(max)s.",
                                                              max=f"{MAX_RPM:,}"))],
        description=_l("Empty: the workspace default."))
    tpm_limit = IntegerField(_l("Tokens per minute"), validators=[
        Optional(), NumberRange(min=1, max=MAX_TPM, message=_l("Enter a whole number from 1 to %(max)s.",
                                                              max=f"{MAX_TPM:,}"))],
        description=_l("Empty: no token limit."))
    monthly_cap = StringField(_l("Monthly spend cap"), validators=[Optional(), Length(max=24)])
    allowed_models = SelectMultipleField(_l("Allowed models"), choices=[])
    expires_on = DateField(_l("Expires on"), validators=[Optional()],
                           description=_l("The key stops working at 00:00 UTC on this day. Empty: never."))

    # The key being edited; its current expiry may stay in the past when the date is left unchanged.
    key: ApiKey | None = None

    @property
    def cap_micro(self) -> int | None:
        text = (self.monthly_cap.data or "").strip()
        return parse_amount(text) if text else None

    @property
    def expires_at(self) -> datetime | None:
        day = self.expires_on.data
        return datetime(day.year, day.month, day.day) if day else None

    def expiry_unchanged(self) -> bool:
        current = self.key.expires_at if self.key is not None else None
        return (current.date() if current else None) == self.expires_on.data

    def validate_monthly_cap(self, field) -> None:
        text = (field.data or "").strip()
        if not text:
            return
        try:
            parse_amount(text)
        except AmountError:
            raise ValidationError(_l("Enter a positive amount such as 50 or 12.50 (at most 6 decimals).")) from None

    def validate_expires_on(self, field) -> None:
        if field.data is None or self.expiry_unchanged():
            return
        if field.data <= utcnow().date():
            raise ValidationError(_l("Pick a day after today (UTC), or revoke the key to stop it now."))


def model_groups(extra: list[str] | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(provider name, [(model id, model name), ...]), ...] from the catalog snapshot.

    IDs a key already allows but the catalog no longer lists (aliases, retired models) stay choosable,
    so saving the form does not drop them silently.
    """
    snapshot = get_snapshot()
    groups: dict[str, list[tuple[str, str]]] = {}
    for model in sorted(snapshot.models.values(), key=lambda m: m.id):
        provider = snapshot.providers.get(model.provider)
        groups.setdefault(provider.name if provider else model.provider, []).append((model.id, model.name))
    known = set(snapshot.models)
    others = [(model_id, model_id) for model_id in extra or () if model_id not in known]
    result = list(groups.items())
    if others:
        result.append((str(_l("Other")), others))
    return result


def key_form(key: ApiKey | None = None, formdata=None) -> KeyForm:
    """A create form (key None) or an edit form filled from the key; `formdata` None means not submitted."""
    if key is None:
        form = KeyForm(formdata=formdata)
    else:
        form = KeyForm(formdata=formdata, data={
            "name": key.name, "rpm_limit": key.rpm_limit, "tpm_limit": key.tpm_limit,
            "monthly_cap": format_plain(key.monthly_spend_cap_micro) if key.monthly_spend_cap_micro else "",
            "allowed_models": list(key.allowed_models or []),
            "expires_on": key.expires_at.date() if key.expires_at else None})
        form.key = key
    groups = model_groups(list(key.allowed_models or []) if key is not None else None)
    form.allowed_models.choices = [choice for _provider, choices in groups for choice in choices]
    form.model_groups = groups
    return form

