"""Crossings: which balances and key spends are past their thresholds now, compared with what was told.

One query per kind over the whole instance per sweep, none per API request. A subject is told once per
crossing: its state row is claimed with an INSERT (unique per workspace and subject) or a conditional
UPDATE, so two instances sweeping together tell it once; going back above deletes or lowers the row,
which re-arms it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, url_for
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from .. import mail
from ..accounts.models import Membership, User, Workspace
from ..billing.models import DEFAULT_LOW_BALANCE_MICRO, CreditAccount, KeySpend, LedgerEntry
from ..database import unit_of_work
from ..extensions import db
from ..keys.models import ApiKey
from ..timeutil import month_key, utcnow
from . import webhooks
from .models import AlertState

log = logging.getLogger("ethergate.alerts")
KEY_LEVELS = (100, 80)
BALANCE = "balance"


@dataclass
class Crossing:
    workspace_id: int
    subject: str
    level: int
    event: str
    data: dict = field(default_factory=dict)


def current_crossings(now: datetime) -> dict[tuple[int, str], Crossing]:
    """Every subject past a threshold right now, keyed by (workspace, subject)."""
    found: dict[tuple[int, str], Crossing] = {}
    threshold = func.coalesce(Workspace.low_balance_micro, DEFAULT_LOW_BALANCE_MICRO)
    available = CreditAccount.balance_micro - CreditAccount.held_micro
    rows = db.session.execute(
        select(Workspace.id, Workspace.slug, Workspace.name, available.label("available"), threshold.label("threshold"))
        .join(CreditAccount, CreditAccount.workspace_id == Workspace.id)
        .where(threshold > 0, available < threshold,
               # a workspace that never had credit did not fall below anything: no email on sign-up
               select(LedgerEntry.id).where(LedgerEntry.workspace_id == Workspace.id, LedgerEntry.amount_micro > 0)
               .exists())).all()
    for row in rows:
        found[(row.id, BALANCE)] = Crossing(row.id, BALANCE, 100, "balance.low", {
            "workspace": row.slug, "workspace_name": row.name, "available_micro": int(row.available),
            "threshold_micro": int(row.threshold), "currency": current_app.config["CURRENCY"]})
    month = month_key(now)
    rows = db.session.execute(
        select(ApiKey.id, ApiKey.name, ApiKey.prefix, ApiKey.workspace_id, ApiKey.monthly_spend_cap_micro.label("cap"),
               KeySpend.spent_micro, Workspace.slug, Workspace.name.label("workspace_name"))
        .join(KeySpend, and_(KeySpend.api_key_id == ApiKey.id, KeySpend.month == month))
        .join(Workspace, Workspace.id == ApiKey.workspace_id)
        .where(ApiKey.monthly_spend_cap_micro > 0, ApiKey.revoked_at.is_(None),
               KeySpend.spent_micro * 100 >= ApiKey.monthly_spend_cap_micro * min(KEY_LEVELS))).all()
    for row in rows:
        level = next(level for level in KEY_LEVELS if row.spent_micro * 100 >= row.cap * level)
        subject = f"key:{row.id}:{month}"
        found[(row.workspace_id, subject)] = Crossing(
            row.workspace_id, subject, level, "key.spend_cap_reached" if level >= 100 else "key.spend_cap_warning", {
                "workspace": row.slug, "workspace_name": row.workspace_name, "key_id": row.id, "key_name": row.name,
                "key_prefix": row.prefix, "month": month, "percent": level, "spent_micro": int(row.spent_micro),
                "cap_micro": int(row.cap), "currency": current_app.config["CURRENCY"]})
    return found


def check_crossings(now: datetime | None = None) -> list[Crossing]:
    """Tell every new crossing (email to owners, webhook queued), re-arm the ones that went back; returns the told."""
    now = now or utcnow()
    crossings = current_crossings(now)
    with unit_of_work():
        told = {(state.workspace_id, state.subject): state.level for state in db.session.scalars(select(AlertState))}
        for (workspace_id, subject), level in told.items():
            now_level = crossings[(workspace_id, subject)].level if (workspace_id, subject) in crossings else 0
            if now_level < level:
                _rearm(workspace_id, subject, level, now_level)
    fresh = [crossing for key, crossing in crossings.items() if crossing.level > told.get(key, 0)]
    claimed = [crossing for crossing in fresh if _claim(crossing, told.get((crossing.workspace_id, crossing.subject)), now)]
    for crossing in claimed:
        notify(crossing, now)
    return claimed


def _rearm(workspace_id: int, subject: str, level: int, now_level: int) -> None:
    where = (AlertState.workspace_id == workspace_id, AlertState.subject == subject, AlertState.level == level)
    if now_level == 0:
        db.session.execute(delete(AlertState).where(*where))
    else:
        db.session.execute(update(AlertState).where(*where).values(level=now_level))


def _claim(crossing: Crossing, told_level: int | None, now: datetime) -> bool:
    if told_level is None:
        try:
            with unit_of_work():
                db.session.add(AlertState(workspace_id=crossing.workspace_id, subject=crossing.subject,
                                          level=crossing.level, crossed_at=now))
        except IntegrityError:  # another instance told it first
            return False
        return True
    with unit_of_work():
        claimed = db.session.execute(
            update(AlertState).where(AlertState.workspace_id == crossing.workspace_id,
                                     AlertState.subject == crossing.subject, AlertState.level == told_level)
            .values(level=crossing.level, crossed_at=now)).rowcount
    return bool(claimed)


def notify(crossing: Crossing, now: datetime) -> None:
    """Email each owner in their language and queue the webhook event."""
    with unit_of_work(writes=False):  # no transaction stays open while SMTP talks
        workspace = db.session.get(Workspace, crossing.workspace_id)
        link = _console_link(workspace.slug, crossing.data.get("key_id"))
        kind = "alert_low_balance" if crossing.subject == BALANCE else "alert_key_spend"
        owners = db.session.execute(select(User.email, User.locale).join(Membership, Membership.user_id == User.id)
                                    .where(Membership.workspace_id == workspace.id, Membership.role == "owner")).all()
        slug = workspace.slug
    for email, locale in owners:
        try:
            mail.send(email, kind, locale or "en", link=link, **crossing.data)
        except Exception:  # noqa: BLE001 (one owner's failed message must not stop the others or the webhook)
            log.exception("alert mail to %s failed", email)
    with unit_of_work():
        webhooks.enqueue(crossing.workspace_id, crossing.event, dict(crossing.data, console_url=link), now)
    log.info("alert %s for workspace %s (%s%%)", crossing.event, slug, crossing.level)


def _console_link(slug: str, key_id: int | None) -> str:
    base = current_app.config["PUBLIC_BASE_URL"]
    with current_app.test_request_context(base_url=base):
        if key_id is not None:
            return url_for("keys.detail", slug=slug, key_id=key_id, _external=True)
        return url_for("billing.credits", slug=slug, _external=True)
