"""The credit ledger: append-only entries and two-phase holds.

Every function here is one short write transaction built from conditional UPDATEs, so the checks and
the changes are atomic on SQLite and PostgreSQL alike, across processes:

* available = balance - held; a hold only succeeds if `balance - held >= amount` at UPDATE time;
* a hold resolves exactly once (captured, voided or expired): the state change is a conditional
  UPDATE on `status = 'pending'` and only the caller that changed it moves money;
* every entry stores `balance_after`, and the balance always equals the sum of the entries.

The hold lifecycle (reserve, capture, void, sweep) runs on every request, so its statements are written
once (sqlfast); on PostgreSQL a request's hold and its capture are one statement each (fastpath). Top-ups,
grants and reports keep the SQLAlchemy helpers below, which other services share.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..database import unit_of_work
from ..extensions import db
from ..keys.models import KeySpend
from ..sqlfast import RowInsert, Statement, Transaction, dialect_name, transaction
from . import fastpath
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


def request_hash(workspace_id: int, kind: str, amount: int, refs: dict) -> str:
    """The digest of what a keyed request asked for: a reused key must ask for exactly the same thing."""
    body = {"workspace_id": workspace_id, "kind": kind, "amount_micro": amount,
            "note": refs.get("note"), "reference": refs.get("reference")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def append(conn: Connection, workspace_id: int, amount: int, kind: str, *, allow_negative_available: bool = False,
           **refs) -> PostedEntry:
    """Move the balance and append the entry inside the caller's transaction; a debit must fit."""
    guard = None if amount > 0 or allow_negative_available else -amount
    balance_after = _move_balance(conn, workspace_id, amount, require_available=guard)
    if balance_after is None:
        balance, held = account_state(workspace_id, conn)
        raise InsufficientCredits(balance, balance - held, -amount)
    if refs.get("idempotency_key") is not None:
        refs["request_hash"] = request_hash(workspace_id, kind, amount, refs)
    entry_id = _insert_entry(conn, workspace_id=workspace_id, kind=kind, amount_micro=amount,
                             balance_after_micro=balance_after, **refs)
    return PostedEntry(entry_id, balance_after, amount)


def post_entry(workspace_id: int, amount: int, kind: str, *, idempotency_key: str | None = None,
               allow_negative_available: bool = False, also: Callable[[PostedEntry], None] | None = None,
               **refs) -> PostedEntry:
    """Append a credit (amount > 0) or debit (amount < 0) that is not tied to a hold, in one transaction.

    A debit must fit in the available balance unless `allow_negative_available`. `also(entry)` adds
    rows that must land with the entry (its audit row) to the same transaction; it is not called on a
    replay. With an idempotency key, a request with the same workspace, kind, amount, note and
    reference returns the first entry; anything else under that key is an IdempotencyConflict.
    """
    if kind not in ("topup", "grant", "redemption", "refund", "adjustment", "usage"):
        raise LedgerError(f"unknown entry kind {kind!r}")
    if amount == 0:
        raise LedgerError("an entry must move money")
    digest = request_hash(workspace_id, kind, amount, refs)
    try:
        with unit_of_work() as conn:
            if idempotency_key is not None:
                existing = _entry_by_idempotency_key(conn, idempotency_key)
                if existing is not None:
                    return replay(existing, digest)
            entry = append(conn, workspace_id, amount, kind, allow_negative_available=allow_negative_available,
                           idempotency_key=idempotency_key, **refs)
            if also is not None:
                also(entry)
            return entry
    except IntegrityError:
        if idempotency_key is None:
            raise
        # Lost a race with a concurrent call carrying the same key: the winner's entry is the answer.
        existing = _entry_by_idempotency_key(db.session.connection(), idempotency_key)
        db.session.commit()  # end the read at once (see database.py)
        if existing is None:
            raise
        return replay(existing, digest)


def _entry_by_idempotency_key(conn: Connection, key: str):
    return conn.execute(select(entries).where(entries.c.idempotency_key == key)).mappings().first()


def replay(existing, digest: str) -> PostedEntry:
    """The first entry posted under a key, if this request asks for the same thing; else a conflict."""
    stored = existing["request_hash"]
    if stored is None:  # posted before request hashes were kept: what it can still be compared on
        stored = request_hash(existing["workspace_id"], existing["kind"], existing["amount_micro"], existing)
    if stored != digest:
        raise IdempotencyConflict("this idempotency key was already used for a different request "
                                  f"(entry {existing['id']}); use a new key for a new request")
    return PostedEntry(existing["id"], existing["balance_after_micro"], existing["amount_micro"], replayed=True)


# The hold lifecycle runs on every /v1 request, so its statements are written once (see sqlfast). Lock order,
# everywhere: holds -> credit_accounts -> key_spend. The workspace's credit_accounts row is the hot one (every
# request of the workspace updates it), so each transaction takes it as late as its logic allows.
INSERT_HOLD = Statement("""
    INSERT INTO holds (workspace_id, api_key_id, request_id, amount_micro, key_month, status, created_at, expires_at)
    VALUES (:workspace_id, :api_key_id, :request_id, :amount, :key_month, 'pending', :now, :expires_at)
    RETURNING id""")
HOLD_FUNDS = Statement("""
    UPDATE credit_accounts SET held_micro = held_micro + :amount
    WHERE workspace_id = :workspace_id AND balance_micro - held_micro >= :amount RETURNING balance_micro""")
MOVE_FUNDS = Statement("""
    UPDATE credit_accounts SET balance_micro = balance_micro + :amount, held_micro = held_micro + :held_delta
    WHERE workspace_id = :workspace_id RETURNING balance_micro""")
ACCOUNT = Statement("SELECT balance_micro, held_micro FROM credit_accounts WHERE workspace_id = :workspace_id")
ENSURE_KEY_MONTH = Statement("""
    INSERT INTO key_spend (api_key_id, month, spent_micro, held_micro) VALUES (:api_key_id, :month, 0, 0)
    ON CONFLICT DO NOTHING""")
HOLD_KEY_FUNDS = Statement("""
    UPDATE key_spend SET held_micro = held_micro + :amount
    WHERE api_key_id = :api_key_id AND month = :month AND spent_micro + held_micro + :amount <= :cap""")
KEY_MONTH = Statement("SELECT spent_micro, held_micro FROM key_spend WHERE api_key_id = :api_key_id AND month = :month")
RESOLVE_HOLD = Statement("""
    UPDATE holds SET status = :status, captured_micro = :captured, resolved_at = :now
    WHERE id = :hold_id AND status = 'pending' RETURNING workspace_id, amount_micro, api_key_id, key_month""")
HOLD_STATE = Statement("SELECT status, workspace_id, api_key_id FROM holds WHERE id = :hold_id")
RELEASE_KEY_FUNDS = Statement("""
    UPDATE key_spend SET held_micro = held_micro - :held, spent_micro = spent_micro + :spent
    WHERE api_key_id = :api_key_id AND month = :month""")
EXPIRED_HOLDS = Statement("""
    SELECT id FROM holds WHERE status = 'pending' AND expires_at < :now ORDER BY expires_at, id LIMIT :limit""")
INSERT_ENTRY = RowInsert(entries)


def _state_in(tx: Transaction, workspace_id: int) -> tuple[int, int]:
    row = tx.one(ACCOUNT, {"workspace_id": workspace_id})
    if row is None:
        raise LedgerError(f"workspace {workspace_id} has no credit account")
    return int(row[0]), int(row[1])


def reserve(workspace_id: int, amount: int, *, request_id: str, api_key_id: int | None = None,
            key_cap: int | None = None, ttl_seconds: int = 900, now: datetime | None = None) -> int:
    """Hold `amount` against the available balance (and the key's monthly cap). Returns the hold id."""
    if amount < 0:
        raise LedgerError("a hold cannot be negative")
    now = now or utcnow()
    month = month_key(now) if key_cap is not None and api_key_id is not None else None
    one_statement = month is None and dialect_name() == "postgresql"
    with transaction(single=one_statement) as tx:
        params = {"workspace_id": workspace_id, "api_key_id": api_key_id, "request_id": request_id, "amount": amount,
                  "key_month": month, "now": tx.time(now), "expires_at": tx.time(now + timedelta(seconds=ttl_seconds))}
        if one_statement:
            hold_id = tx.scalar(fastpath.RESERVE, params)  # None: not enough funds, and nothing was written
        else:
            return _reserve_steps(tx, params, key_cap)
    if hold_id is None:
        with transaction(single=True) as tx:
            balance, held = _state_in(tx, workspace_id)
        raise InsufficientCredits(balance, balance - held, amount)
    return hold_id


def _reserve_steps(tx: Transaction, params: dict, key_cap: int | None) -> int:
    amount, workspace_id = params["amount"], params["workspace_id"]
    # The hold row first: a refused reservation rolls it back, and the account row is locked last.
    hold_id = tx.scalar(INSERT_HOLD, params)
    if tx.one(HOLD_FUNDS, params) is None:
        balance, held = _state_in(tx, workspace_id)
        raise InsufficientCredits(balance, balance - held, amount)
    if params["key_month"] is not None:
        key_month = {"api_key_id": params["api_key_id"], "month": params["key_month"]}
        tx.execute(ENSURE_KEY_MONTH, key_month)
        if not tx.rowcount(HOLD_KEY_FUNDS, {**key_month, "amount": amount, "cap": key_cap}):
            spent, held = tx.one(KEY_MONTH, key_month)
            raise SpendCapExceeded(key_cap, int(spent), int(held), amount)
    return hold_id


def _resolve(tx: Transaction, hold_id: int, status: str, captured: int | None, now: datetime):
    """Flip a pending hold to its final state; returns (workspace_id, amount, api_key_id, key_month) if this
    call resolved it, else None."""
    return tx.one(RESOLVE_HOLD, {"status": status, "captured": captured, "now": tx.time(now), "hold_id": hold_id})


def _release_key_hold(tx: Transaction, hold, spent: int) -> None:
    _workspace_id, amount, api_key_id, key_month = hold
    if key_month is None or api_key_id is None:
        return
    tx.execute(RELEASE_KEY_FUNDS, {"held": amount, "spent": spent, "api_key_id": api_key_id, "month": key_month})


def _release_hold(tx: Transaction, hold, spent: int = 0) -> None:
    """Give a resolved hold's amount back to the available balance (account row, then key row)."""
    tx.execute(MOVE_FUNDS, {"amount": -spent, "held_delta": -hold[1], "workspace_id": hold[0]})
    _release_key_hold(tx, hold, spent)


def capture(hold_id: int, cost: int, *, also_insert: tuple[RowInsert, dict] | None = None,
            now: datetime | None = None, **refs) -> PostedEntry | None:
    """Debit the metered `cost` and release the rest of the hold, in one transaction.

    `also_insert=(RowInsert, values)` writes one more row inside the same transaction (the
    request log row goes there, so billing and logging land together). If the hold had already expired (a
    request that outlived its hold), the usage is still debited, without a hold reference: no successful
    request goes unbilled. Returns the entry, or None when cost is 0.
    """
    if cost < 0:
        raise LedgerError("a capture cannot be negative")
    now = now or utcnow()
    if dialect_name() == "postgresql":
        with transaction(single=True) as tx:
            statement = fastpath.capture_statement(INSERT_ENTRY, also_insert[0] if also_insert else None,
                                                   key_from_hold="api_key_id" not in refs)
            params = {"cost": cost, "now": tx.time(now), "hold_id": hold_id}
            params.update(INSERT_ENTRY.prefixed_params(dict(refs, amount_micro=-cost, created_at=now) if cost else {},
                                                       tx))
            if also_insert:
                params.update(also_insert[0].prefixed_params(also_insert[1], tx))
            # Only the names it uses: psycopg caches a statement's parsing only up to 50 parameters.
            row = tx.one(statement, {name: params[name] for name in statement.names})
        if row is not None:
            return PostedEntry(row[2], row[1], -cost) if cost else None
        # The hold was not pending and nothing was written: the general path below says why.
    with transaction() as tx:
        hold = _resolve(tx, hold_id, "captured", cost, now)
        if hold is not None:
            workspace_id, held_delta, hold_ref = hold[0], -hold[1], hold_id
            refs.setdefault("api_key_id", hold[2])
        else:
            late = tx.one(HOLD_STATE, {"hold_id": hold_id})
            if late is None:
                raise LedgerError(f"no hold {hold_id}")
            if late[0] != "expired":
                raise LedgerError(f"hold {hold_id} was already {late[0]}")
            workspace_id, held_delta, hold_ref = late[1], 0, None
            refs.setdefault("api_key_id", late[2])
            refs["note"] = ((refs.get("note") or "") + " (captured after the hold expired)").strip()
        # Before the account row, so its lock is not held while these are written.
        if also_insert is not None:
            tx.insert(*also_insert)
        balance_after = tx.scalar(MOVE_FUNDS, {"amount": -cost, "held_delta": held_delta,
                                               "workspace_id": workspace_id})
        entry = None
        if cost:
            entry_id = tx.insert(INSERT_ENTRY, dict(
                refs, workspace_id=workspace_id, kind="usage", amount_micro=-cost, balance_after_micro=balance_after,
                hold_id=hold_ref, created_at=now))
            entry = PostedEntry(entry_id, balance_after, -cost)
        if hold is not None:
            _release_key_hold(tx, hold, cost)
        return entry


def void(hold_id: int, *, also_insert: tuple[RowInsert, dict] | None = None, now: datetime | None = None) -> bool:
    """Release a hold in full (the request failed). True if this call resolved it."""
    now = now or utcnow()
    with transaction() as tx:
        hold = _resolve(tx, hold_id, "voided", 0, now)
        if also_insert is not None:
            tx.insert(*also_insert)
        if hold is not None:
            _release_hold(tx, hold)
        return hold is not None


def sweep_expired_holds(now: datetime | None = None, limit: int = 500) -> int:
    """Release holds whose request never finished (a crashed process). Returns how many."""
    now = now or utcnow()
    with transaction() as tx:
        ids = [row[0] for row in tx.all(EXPIRED_HOLDS, {"now": tx.time(now), "limit": limit})]
    released = 0
    for hold_id in ids:
        with transaction() as tx:
            hold = _resolve(tx, hold_id, "expired", 0, now)
            if hold is not None:
                _release_hold(tx, hold)
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
