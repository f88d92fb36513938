"""Console forms. Flask-WTF adds the CSRF field; templates render fields with _macros/forms.html."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..accounts.services import MIN_PASSWORD, AccountError, normalize_email
from ..money import AmountError, parse_amount
from .credit_forms import typed_amount

ROLE_CHOICES = [("member", _l("Member")), ("admin", _l("Admin")), ("owner", _l("Owner"))]


def role_select_choices() -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in ROLE_CHOICES]


def valid_email(_form, field) -> None:
    # WTForms' Email() needs the email_validator package; the account rules are the ones that matter.
    try:
        field.data = normalize_email(field.data or "")
    except AccountError:
        raise ValidationError(_l("Enter a valid email address.")) from None


def role_label(role: str):
    return dict(ROLE_CHOICES).get(role, role)


class SignupForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[
        DataRequired(_l("Enter your email address.")), valid_email,
        Length(max=254)])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Choose a password.")),
        Length(min=MIN_PASSWORD, max=200,
               message=_l("Use at least %(count)s characters.", count=MIN_PASSWORD))],
        description=_l("At least %(count)s characters.", count=MIN_PASSWORD))


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")),
                                                          Length(max=200)])
    remember = BooleanField(_l("Keep me signed in on this device"), default=False)


class WorkspaceForm(FlaskForm):
    name = StringField(_l("Workspace name"), validators=[
        DataRequired(_l("Give the workspace a name.")), Length(max=120)])


class InviteForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[
        DataRequired(_l("Enter an email address.")), valid_email,
        Length(max=254)])
    role = SelectField(_l("Role"), choices=role_select_choices(), default="member")


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=role_select_choices())


def new_password_field(label):
    return PasswordField(label, validators=[
        DataRequired(_l("Choose a password.")),
        Length(min=MIN_PASSWORD, max=200, message=_l("Use at least %(count)s characters.", count=MIN_PASSWORD))],
        description=_l("At least %(count)s characters.", count=MIN_PASSWORD))


def current_password_field():
    return PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your password.")),
                                                             Length(max=200)])


class TwoFactorForm(FlaskForm):
    code = StringField(_l("Authentication code"), validators=[
        DataRequired(_l("Enter the code from your authenticator app.")), Length(max=32)],
        description=_l("The 6-digit code from your authenticator app, or one of your recovery codes."))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter your email address.")), valid_email,
                                                Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = new_password_field(_l("New password"))


class ChangePasswordForm(FlaskForm):
    current = current_password_field()
    password = new_password_field(_l("New password"))


class ChangeEmailForm(FlaskForm):
    email = EmailField(_l("New email"), validators=[DataRequired(_l("Enter an email address.")), valid_email,
                                                    Length(max=254)])
    current = current_password_field()


class EnableTwoFactorForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[
        DataRequired(_l("Enter the code from your authenticator app.")), Length(max=32)])


class DisableTwoFactorForm(FlaskForm):
    current = current_password_field()
    code = StringField(_l("Authentication code"), validators=[
        DataRequired(_l("Enter the code from your authenticator app.")), Length(max=32)])
MAX_DEFAULT_RPM = 100_000


class WorkspaceLimitsForm(FlaskForm):
    """The low-balance warning threshold and the rate limit of keys that set none; empty means the default."""
    low_balance = StringField(_l("Warn when available credit is below"), validators=[Optional(), Length(max=24)])
    default_rpm = IntegerField(_l("Default requests per minute for keys"), validators=[
        Optional(), NumberRange(min=1, max=MAX_DEFAULT_RPM,
                                message=_l("Between 1 and %(max)s requests per minute.", max=MAX_DEFAULT_RPM))])

    low_balance_micro: int | None = None

    def validate_low_balance(self, field) -> None:
        if not (field.data or "").strip():
            self.low_balance_micro = None
            return
        try:
            self.low_balance_micro = parse_amount(typed_amount(field.data), allow_zero=True)
        except AmountError:
            raise ValidationError(_l("Enter an amount such as 5 or 12.50 (0 turns the warning off).")) from None


class WebhookForm(FlaskForm):
    url = StringField(_l("Webhook URL"), validators=[DataRequired(_l("Enter the URL to post alerts to.")),
                                                     Length(max=2000)])
