"""The credit ledger: append-only entries and two-phase holds.

Every function here is one short write transaction built from conditional UPDATEs, so the checks and
the changes are atomic on SQLite and PostgreSQL alike, across processes:

* available = balance - held; a hold only succeeds if `balance - held >= amount` at UPDATE time;
* a hold resolves exactly once (captured, voided or expired): the state change is a conditional
  UPDATE on `status = 'pending'` and only the caller that changed it moves money;
* every entry stores `balance_after`, and the balance always equals the sum of the entries.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..database import unit_of_work
from ..extensions import db
from ..keys.models import KeySpend
from ..timeutil import month_key, utcnow
from .models import CreditAccount, Hold, LedgerEntry

accounts = CreditAccount.__table__
entries = LedgerEntry.__table__
holds = Hold.__table__
key_spend = KeySpend.__table__


class LedgerError(ValueError):
    pass


class InsufficientCredits(LedgerError):
    def __init__(self, balance: int, available: int, needed: int):
        self.balance, self.available, self.needed = balance, available, needed
        super().__init__(f"available {available} < needed {needed}")


class SpendCapExceeded(LedgerError):
    def __init__(self, cap: int, spent: int, held: int, needed: int):
        self.cap, self.spent, self.held, self.needed = cap, spent, held, needed
        super().__init__(f"key monthly cap {cap}: spent {spent} + held {held} + needed {needed} exceeds it")


class IdempotencyConflict(LedgerError):
    pass


@dataclass(frozen=True)
class PostedEntry:
    id: int
    balance_after: int
    amount: int
    replayed: bool = False


def _move_balance(conn: Connection, workspace_id: int, amount: int, held_delta: int = 0,
                  require_available: int | None = None) -> int | None:
    """balance += amount, held += held_delta; returns the new balance, or None if the guard failed."""
    stmt = (update(accounts)
            .where(accounts.c.workspace_id == workspace_id)
            .values(balance_micro=accounts.c.balance_micro + amount,
                    held_micro=accounts.c.held_micro + held_delta)
            .returning(accounts.c.balance_micro))
    if require_available is not None:
        stmt = stmt.where(accounts.c.balance_micro - accounts.c.held_micro >= require_available)
    return conn.execute(stmt).scalar()


def _insert_entry(conn: Connection, **values) -> int:
    values.setdefault("created_at", utcnow())
    return conn.execute(insert(entries).values(**values).returning(entries.c.id)).scalar_one()


def account_state(workspace_id: int, conn: Connection | None = None) -> tuple[int, int]:
    """(balance, held) in micro-units."""
    query = select(accounts.c.balance_micro, accounts.c.held_micro).where(accounts.c.workspace_id == workspace_id)
    if conn is None:
        with unit_of_work() as own:  # a standalone read must not leave its transaction open
            row = own.execute(query).first()
    else:
        row = conn.execute(query).first()
    if row is None:
        raise LedgerError(f"workspace {workspace_id} has no credit account")
    return int(row[0]), int(row[1])


def post_entry(workspace_id: int, amount: int, kind: str, *, idempotency_key: str | None = None,
               allow_negative_available: bool = False, **refs) -> PostedEntry:
    """Append a credit (amount > 0) or debit (amount < 0) that is not tied to a hold.

    A debit must fit in the available balance unless `allow_negative_available`. With an
    idempotency key, a replay with the same workspace, kind and amount returns the first entry;
    anything else under that key is an IdempotencyConflict.
    """
    if kind not in ("topup", "grant", "redemption", "refund", "adjustment", "usage"):
        raise LedgerError(f"unknown entry kind {kind!r}")
    if amount == 0:
        raise LedgerError("an entry must move money")
    try:
        with unit_of_work() as conn:
            if idempotency_key is not None:
                existing = _entry_by_idempotency_key(conn, idempotency_key)
                if existing is not None:
                    return _replay(existing, workspace_id, kind, amount)
            guard = None if amount > 0 or allow_negative_available else -amount
            balance_after = _move_balance(conn, workspace_id, amount, require_available=guard)
            if balance_after is None:
                balance, held = account_state(workspace_id, conn)
                raise InsufficientCredits(balance, balance - held, -amount)
            entry_id = _insert_entry(conn, workspace_id=workspace_id, kind=kind, amount_micro=amount,
                                     balance_after_micro=balance_after, idempotency_key=idempotency_key, **refs)
            return PostedEntry(entry_id, balance_after, amount)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # Lost a race with a concurrent call carrying the same key: the winner's entry is the answer.
        existing = _entry_by_idempotency_key(db.session.connection(), idempotency_key)
        db.session.commit()  # end the read at once (see database.py)
        if existing is None:
            raise
        return _replay(existing, workspace_id, kind, amount)


def _entry_by_idempotency_key(conn: Connection, key: str):
    return conn.execute(select(entries).where(entries.c.idempotency_key == key)).mappings().first()


def _replay(existing, workspace_id: int, kind: str, amount: int) -> PostedEntry:
    if (existing["workspace_id"], existing["kind"], existing["amount_micro"]) != (workspace_id, kind, amount):
        raise IdempotencyConflict("this idempotency key was already used for a different operation")
    return PostedEntry(existing["id"], existing["balance_after_micro"], amount, replayed=True)


def reserve(workspace_id: int, amount: int, *, request_id: str, api_key_id: int | None = None,
            key_cap: int | None = None, ttl_seconds: int = 900, now: datetime | None = None) -> int:
    """Hold `amount` against the available balance (and the key's monthly cap). Returns the hold id."""
    if amount < 0:
        raise LedgerError("a hold cannot be negative")
    now = now or utcnow()
    month = month_key(now) if key_cap is not None and api_key_id is not None else None
    with unit_of_work() as conn:
        if _move_balance(conn, workspace_id, 0, held_delta=amount, require_available=amount) is None:
            balance, held = account_state(workspace_id, conn)
            raise InsufficientCredits(balance, balance - held, amount)
        if month is not None:
            _ensure_key_month(conn, api_key_id, month)
            changed = conn.execute(
                update(key_spend)
                .where(key_spend.c.api_key_id == api_key_id, key_spend.c.month == month,
                       key_spend.c.spent_micro + key_spend.c.held_micro + amount <= key_cap)
                .values(held_micro=key_spend.c.held_micro + amount)).rowcount
            if not changed:
                spent, held = conn.execute(
                    select(key_spend.c.spent_micro, key_spend.c.held_micro)
                    .where(key_spend.c.api_key_id == api_key_id, key_spend.c.month == month)).one()
                raise SpendCapExceeded(key_cap, int(spent), int(held), amount)
        return conn.execute(insert(holds).values(
            workspace_id=workspace_id, api_key_id=api_key_id, request_id=request_id, amount_micro=amount,
            key_month=month, status="pending", created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds)).returning(holds.c.id)).scalar_one()


def _ensure_key_month(conn: Connection, api_key_id: int, month: str) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(key_spend).values(api_key_id=api_key_id, month=month, spent_micro=0, held_micro=0)
                 .on_conflict_do_nothing())


def _resolve(conn: Connection, hold_id: int, status: str, captured: int | None, now: datetime):
    """Flip a pending hold to its final state; returns the hold row if this call resolved it."""
    row = conn.execute(
        update(holds).where(holds.c.id == hold_id, holds.c.status == "pending")
        .values(status=status, captured_micro=captured, resolved_at=now)
        .returning(holds.c.workspace_id, holds.c.amount_micro, holds.c.api_key_id, holds.c.key_month)).first()
    return row


def _release_key_hold(conn: Connection, hold, spent: int) -> None:
    if hold.key_month is None or hold.api_key_id is None:
        return
    conn.execute(update(key_spend)
                 .where(key_spend.c.api_key_id == hold.api_key_id, key_spend.c.month == hold.key_month)
                 .values(held_micro=key_spend.c.held_micro - hold.amount_micro,
                         spent_micro=key_spend.c.spent_micro + spent))


def capture(hold_id: int, cost: int, *, extra_rows=None, now: datetime | None = None, **refs) -> PostedEntry | None:
    """Debit the metered `cost` and release the rest of the hold, in one transaction.

    `extra_rows(conn)` runs inside the same transaction (the request log row goes there, so billing and
    logging land together). If the hold had already expired (a request that outlived its hold), the
    usage is still debited, without a hold reference: no successful request goes unbilled.
    Returns the entry, or None when cost is 0.
    """
    if cost < 0:
        raise LedgerError("a capture cannot be negative")
    now = now or utcnow()
    with unit_of_work() as conn:
        hold = _resolve(conn, hold_id, "captured", cost, now)
        if hold is not None:
            workspace_id, held_delta = hold.workspace_id, -hold.amount_micro
            refs.setdefault("api_key_id", hold.api_key_id)
            hold_ref = hold_id
        else:
            late = conn.execute(select(holds).where(holds.c.id == hold_id)).mappings().first()
            if late is None:
                raise LedgerError(f"no hold {hold_id}")
            if late["status"] != "expired":
                raise LedgerError(f"hold {hold_id} was already {late['status']}")
            workspace_id, held_delta, hold_ref = late["workspace_id"], 0, None
            refs.setdefault("api_key_id", late["api_key_id"])
            refs["note"] = ((refs.get("note") or "") + " (captured after the hold expired)").strip()
        balance_after = _move_balance(conn, workspace_id, -cost, held_delta=held_delta)
        if hold is not None:
            # After the account row, as in reserve/void/sweep: one lock order, no deadlock on PostgreSQL.
            _release_key_hold(conn, hold, cost)
        entry = None
        if cost:
            entry_id = _insert_entry(conn, workspace_id=workspace_id, kind="usage", amount_micro=-cost,
                                     balance_after_micro=balance_after, hold_id=hold_ref, created_at=now, **refs)
            entry = PostedEntry(entry_id, balance_after, -cost)
        if extra_rows is not None:
            extra_rows(conn)
        return entry


def void(hold_id: int, *, extra_rows=None, now: datetime | None = None) -> bool:
    """Release a hold in full (the request failed). True if this call resolved it."""
    now = now or utcnow()
    with unit_of_work() as conn:
        hold = _resolve(conn, hold_id, "voided", 0, now)
        if hold is not None:
            _move_balance(conn, hold.workspace_id, 0, held_delta=-hold.amount_micro)
            _release_key_hold(conn, hold, 0)
        if extra_rows is not None:
            extra_rows(conn)
        return hold is not None


def sweep_expired_holds(now: datetime | None = None, limit: int = 500) -> int:
    """Release holds whose request never finished (a crashed process). Returns how many."""
    now = now or utcnow()
    with unit_of_work() as conn:
        ids = conn.execute(select(holds.c.id).where(holds.c.status == "pending", holds.c.expires_at < now)
                           .order_by(holds.c.id).limit(limit)).scalars().all()
    released = 0
    for hold_id in ids:
        with unit_of_work() as conn:
            hold = _resolve(conn, hold_id, "expired", 0, now)
            if hold is not None:
                _move_balance(conn, hold.workspace_id, 0, held_delta=-hold.amount_micro)
                _release_key_hold(conn, hold, 0)
                released += 1
    return released


def recompute_balance(workspace_id: int) -> int:
    """The balance as the sum of the workspace's entries."""
    with unit_of_work() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(entries.c.amount_micro), 0))
                                .where(entries.c.workspace_id == workspace_id)).scalar_one())


def pending_held(workspace_id: int) -> int:
    """The sum of the workspace's pending holds, which must equal its `held_micro`."""
    with unit_of_work() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(holds.c.amount_micro), 0))
                                .where(and_(holds.c.workspace_id == workspace_id,
                                            holds.c.status == "pending"))).scalar_one())
