"""The credit ledger: balances, append-only entries, holds, redemption codes and payments."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow
from ..types import BigId

ENTRY_KINDS = ("topup", "grant", "redemption", "usage", "refund", "adjustment")
HOLD_STATES = ("pending", "captured", "voided", "expired")
# A workspace that sets no low-balance threshold is warned below 1.00 of its currency.
DEFAULT_LOW_BALANCE_MICRO = 1_000_000


class CreditAccount(db.Model):
    """Posted balance and pending holds of a workspace; available = balance - held."""
    __tablename__ = "credit_accounts"

    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    balance_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    held_micro: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def available_micro(self) -> int:
        return self.balance_micro - self.held_micro


class KeySpend(db.Model):
    """Month-to-date spend and pending holds of one key, for its monthly cap."""
    __tablename__ = "key_spend"

    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    held_micro: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"
    # A workspace's ledger is read newest first: one index serves the filter and the order.
    __table_args__ = (Index("ix_ledger_entries_workspace_created", "workspace_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_micro: Mapped[int] = mapped_column(BigInteger)
    balance_after_micro: Mapped[int] = mapped_column(BigInteger)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str | None] = mapped_column(String(254))
    note: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128), index=True)
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("holds.id"), unique=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"), index=True)
    model_id: Mapped[str | None] = mapped_column(String(128))
    provider: Mapped[str | None] = mapped_column(String(32))
    prompt_tokens: Mapped[int | None]
    cached_tokens: Mapped[int | None]
    completion_tokens: Mapped[int | None]
    reasoning_tokens: Mapped[int | None]
    pricing: Mapped[dict | None] = mapped_column(db.JSON)
    estimated: Mapped[bool] = mapped_column(default=False)
    # A usage entry that cost more than its hold: billed as metered, and shown to support.
    over_hold: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    reference: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    # SHA-256 of what the keyed request asked for; a reused key with another body is refused.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Hold(db.Model):
    __tablename__ = "holds"
    # Only pending holds can expire: the sweep's index holds those alone, and a resolved hold leaves it.
    __table_args__ = (Index("ix_holds_pending_expiry", "expires_at", sqlite_where=text("status = 'pending'"),
                            postgresql_where=text("status = 'pending'")),
                      Index("ix_holds_capture_due", "capture_due_at", sqlite_where=text("capture_due_at IS NOT NULL"),
                            postgresql_where=text("capture_due_at IS NOT NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    request_id: Mapped[str] = mapped_column(String(128), index=True)
    amount_micro: Mapped[int] = mapped_column(BigInteger)
    key_month: Mapped[str | None] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    captured_micro: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # Set when the capture could not be written at the time: what it owes, for the sweep to post once.
    capture_due_at: Mapped[datetime | None]
    capture_cost_micro: Mapped[int | None] = mapped_column(BigInteger)
    capture_usage: Mapped[dict | None] = mapped_column(db.JSON)
    capture_pricing: Mapped[dict | None] = mapped_column(db.JSON)


class RedemptionCode(db.Model):
    __tablename__ = "redemption_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    amount_micro: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)            # staff only: why and for whom
    description: Mapped[str | None] = mapped_column(Text)     # what the redeemer's ledger entry says
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    redeemed_workspace_id: Mapped[int | None] = mapped_column(ForeignKey("workspaces.id", ondelete="SET NULL"))
    redeemed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    redeemed_at: Mapped[datetime | None]


class Payment(db.Model):
    """A checkout started with a payment provider; credited once, on its paid event."""
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("provider", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    amount_micro: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]


class PaymentEvent(db.Model):
    """Webhook events already processed, so a replay is a no-op."""
    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
