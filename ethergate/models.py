"""Every table, imported in one place so migrations and the app see the whole schema."""
from .accounts.models import AuditEvent, Invitation, Membership, User, Workspace
from .accounts.sessions import UserSession
from .accounts.tokens import AccountToken
from .accounts.two_factor import RecoveryCode
from .alerts.models import AlertState, AlertWebhook, WebhookDelivery
from .billing.models import CreditAccount, Hold, KeySpend, LedgerEntry, Payment, PaymentEvent, RedemptionCode
from .catalog.models import Model, ModelAlias, Price, Provider, Route
from .incidents.models import Incident
from .keys.models import ApiKey
from .mail.models import OutboxMessage
from .usage.models import RequestLog

__all__ = [
    "AccountToken", "AlertState", "AlertWebhook", "OutboxMessage", "RecoveryCode", "UserSession", "WebhookDelivery",
    "ApiKey", "AuditEvent", "CreditAccount", "Hold", "Incident", "Invitation", "KeySpend", "LedgerEntry", "Membership",
    "Model", "ModelAlias", "Payment", "PaymentEvent", "Price", "Provider", "RedemptionCode", "RequestLog",
    "Route", "User", "Workspace",
]
