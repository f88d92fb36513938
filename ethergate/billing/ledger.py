"""The credit ledger: append-only entries and two-phase holds.

Every function here is one short write transaction built from conditional UPDATEs, so the checks and
the changes are atomic on SQLite and PostgreSQL alike, across processes:

* available = balance - held; a hold only succeeds if `balance - held >= amount` at UPDATE time;
* a hold resolves exactly once (captured, voided or expired; an expired hold can still be captured
  once, late): the state change is a conditional UPDATE on its status and only the caller that changed
  it moves money;
* a capture that could not be written is recorded on its hold and posted by the sweep, never released;
* every entry stores `balance_after`, and the balance always equals the sum of the entries.

Every statement that moves credits is in statements.py, written once (sqlfast); on PostgreSQL a
request's hold and its capture are one statement each there. Top-ups, grants and reports keep the
SQLAlchemy helpers below, which other services share; their guarded debit is statements.DEBIT_FUNDS.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .. import group_commit
from ..database import unit_of_work
from ..sqlfast import RowInsert, Transaction, dialect_name, transaction
from . import statements as sql
from ..timeutil import month_key, utcnow
from .models import ENTRY_KINDS, CreditAccount, Hold, KeySpend, LedgerEntry

accounts = CreditAccount.__table__
entries = LedgerEntry.__table__
holds = Hold.__table__
key_spend = KeySpend.__table__
log = logging.getLogger("ethergate.billing")


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
    if require_available is not None and held_delta == 0:
        statement, params = sql.DEBIT_FUNDS, {"delta": amount, "amount": require_available}
    elif require_available is None:
        statement, params = sql.MOVE_FUNDS, {"amount": amount, "held_delta": held_delta}
    else:
        raise LedgerError("a guarded balance change cannot move holds")
    return conn.execute(text(statement.text), {**params, "workspace_id": workspace_id}).scalar()


def _insert_entry(conn: Connection, **values) -> int:
    values.setdefault("created_at", utcnow())
    return conn.execute(insert(entries).values(**values).returning(entries.c.id)).scalar_one()


def account_state(workspace_id: int, conn: Connection | None = None) -> tuple[int, int]:
    """(balance, held) in micro-units."""
    query = select(accounts.c.balance_micro, accounts.c.held_micro).where(accounts.c.workspace_id == workspace_id)
    if conn is None:
        with unit_of_work(writes=False) as own:  # a standalone read ends at once
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
    if kind not in ENTRY_KINDS:
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
        with unit_of_work(writes=False) as conn:
            existing = _entry_by_idempotency_key(conn, idempotency_key)
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


# The hold lifecycle runs on every /v1 request, so its statements are written once (statements.py).
INSERT_ENTRY = RowInsert(entries)
# On PostgreSQL a request's hold and its capture are one statement each; tests turn it off to compare.
FAST_PATH = True


def _fast() -> bool:
    return FAST_PATH and dialect_name() == "postgresql"


def _state_in(tx: Transaction, workspace_id: int) -> tuple[int, int]:
    row = tx.one(sql.ACCOUNT, {"workspace_id": workspace_id})
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
    params = {"workspace_id": workspace_id, "api_key_id": api_key_id, "request_id": request_id, "amount": amount,
              "key_month": month, "now": now, "expires_at": now + timedelta(seconds=ttl_seconds)}
    if month is not None or not _fast():
        return group_commit.write(lambda tx: _reserve_steps(tx, _timed(tx, params), key_cap))
    with transaction(single=True) as tx:
        hold_id = tx.scalar(sql.RESERVE, _timed(tx, params))  # None: not enough funds, and nothing was written
    if hold_id is None:
        with transaction(single=True) as tx:
            balance, held = _state_in(tx, workspace_id)
        raise InsufficientCredits(balance, balance - held, amount)
    return hold_id


def _timed(tx: Transaction, params: dict) -> dict:
    return {**params, "now": tx.time(params["now"]), "expires_at": tx.time(params["expires_at"])}


def _reserve_steps(tx: Transaction, params: dict, key_cap: int | None) -> int:
    amount, workspace_id = params["amount"], params["workspace_id"]
    # The hold row first: a refused reservation rolls it back, and the account row is locked last.
    hold_id = tx.scalar(sql.INSERT_HOLD, params)
    if tx.one(sql.HOLD_FUNDS, params) is None:
        balance, held = _state_in(tx, workspace_id)
        raise InsufficientCredits(balance, balance - held, amount)
    if params["key_month"] is not None:
        key_month = {"api_key_id": params["api_key_id"], "month": params["key_month"]}
        tx.execute(sql.ENSURE_KEY_MONTH, key_month)
        if not tx.rowcount(sql.HOLD_KEY_FUNDS, {**key_month, "amount": amount, "cap": key_cap}):
            spent, held = tx.one(sql.KEY_MONTH, key_month)
            raise SpendCapExceeded(key_cap, int(spent), int(held), amount)
    return hold_id


def _resolve(tx: Transaction, hold_id: int, status: str, cost: int | None, now: datetime, was: str = "pending"):
    """Flip a hold from `was` to its final state; returns (workspace_id, amount, api_key_id, key_month) if this
    call resolved it, else None."""
    statement = sql.RESOLVE_HOLD if was == "pending" else sql.RESOLVE_LATE_HOLD
    return tx.one(statement, {"status": status, "cost": cost, "now": tx.time(now), "hold_id": hold_id})


def _key_spend(tx: Transaction, hold, held: int, spent: int) -> None:
    _workspace_id, _amount, api_key_id, key_month = hold
    if key_month is None or api_key_id is None:
        return
    tx.execute(sql.RELEASE_KEY_FUNDS, {"held": held, "spent": spent, "api_key_id": api_key_id, "month": key_month})


def _release_hold(tx: Transaction, hold, spent: int = 0) -> None:
    """Give a resolved hold's amount back to the available balance (account row, then key row)."""
    tx.execute(sql.MOVE_FUNDS, {"amount": -spent, "held_delta": -hold[1], "workspace_id": hold[0]})
    _key_spend(tx, hold, hold[1], spent)


def capture(hold_id: int, cost: int, *, also_insert: tuple[RowInsert, dict] | None = None,
            now: datetime | None = None, **refs) -> PostedEntry | None:
    """Debit the metered `cost` and release the rest of the hold, in one transaction.

    `also_insert=(RowInsert, values)` writes one more row inside the same transaction (the
    request log row goes there, so billing and logging land together). If the hold had already expired (a
    request that outlived its hold), the usage is still debited and counted in the key's monthly spend, and
    the hold becomes captured: no successful request goes unbilled, and none is billed twice. Returns the
    entry, or None when cost is 0.
    """
    if cost < 0:
        raise LedgerError("a capture cannot be negative")
    now = now or utcnow()
    if _fast():
        with transaction(single=True) as tx:
            statement = sql.capture_statement(INSERT_ENTRY, also_insert[0] if also_insert else None,
                                              key_from_hold="api_key_id" not in refs)
            params = {"status": "captured", "cost": cost, "now": tx.time(now), "hold_id": hold_id}
            params.update(INSERT_ENTRY.prefixed_params(dict(refs, amount_micro=-cost, created_at=now) if cost else {},
                                                       tx))
            if also_insert:
                params.update(also_insert[0].prefixed_params(also_insert[1], tx))
            # Only the names it uses: psycopg caches a statement's parsing only up to 50 parameters.
            row = tx.one(statement, {name: params[name] for name in statement.names})
        if row is not None:
            return PostedEntry(row[2], row[1], -cost) if cost else None
        # The hold was not pending and nothing was written: the general path below says why.
    return group_commit.write(lambda tx: _capture_steps(tx, hold_id, cost, now, also_insert, dict(refs)))


def _capture_steps(tx: Transaction, hold_id: int, cost: int, now: datetime,
                   also_insert: tuple[RowInsert, dict] | None, refs: dict) -> PostedEntry | None:
    """The general path's capture, in the caller's transaction (see `capture`)."""
    hold = _resolve(tx, hold_id, "captured", cost, now)
    held_delta = -hold[1] if hold is not None else 0
    if hold is None:
        hold = _resolve(tx, hold_id, "captured", cost, now, was="expired")
        if hold is None:
            state = tx.one(sql.HOLD_STATE, {"hold_id": hold_id})
            raise LedgerError(f"no hold {hold_id}" if state is None else f"hold {hold_id} was already {state[0]}")
        refs["note"] = ((refs.get("note") or "") + " (captured after the hold expired)").strip()
    refs.setdefault("api_key_id", hold[2])
    # Before the account row, so its lock is not held while these are written.
    if also_insert is not None:
        tx.insert(*also_insert)
    balance_after = tx.scalar(sql.MOVE_FUNDS, {"amount": -cost, "held_delta": held_delta,
                                               "workspace_id": hold[0]})
    entry = None
    if cost:
        entry_id = tx.insert(INSERT_ENTRY, dict(
            refs, workspace_id=hold[0], kind="usage", amount_micro=-cost, balance_after_micro=balance_after,
            hold_id=hold_id, created_at=now))
        entry = PostedEntry(entry_id, balance_after, -cost)
    _key_spend(tx, hold, -held_delta, cost)
    return entry


def mark_capture_due(hold_id: int, cost: int, usage: dict, pricing: dict | None, *,
                     also_insert: tuple[RowInsert, dict] | None = None, now: datetime | None = None) -> bool:
    """Record on the hold the capture that could not be written, for the sweep to post exactly once.

    `usage` carries the entry's columns (tokens, model, provider, request ID, estimated, over_hold). The
    log row goes in with the mark. False if the hold owes nothing any more: the capture did commit after all,
    or it was already marked.
    """
    now = now or utcnow()
    with transaction() as tx:
        marked = tx.one(sql.MARK_CAPTURE_DUE, {"hold_id": hold_id, "now": tx.time(now), "cost": cost,
                                               "usage": json.dumps(usage), "pricing": json.dumps(pricing)})
        if marked is not None and also_insert is not None:
            tx.insert(*also_insert)
        return marked is not None


def void(hold_id: int, *, also_insert: tuple[RowInsert, dict] | None = None, now: datetime | None = None) -> bool:
    """Release a hold in full (the request failed). True if this call resolved it."""
    now = now or utcnow()

    def release(tx: Transaction) -> bool:
        hold = _resolve(tx, hold_id, "voided", 0, now)
        if also_insert is not None:
            tx.insert(*also_insert)
        if hold is not None:
            _release_hold(tx, hold)
        return hold is not None

    return group_commit.write(release)


@dataclass(frozen=True)
class Sweep:
    released: int = 0   # holds of requests that never finished, given back
    posted: int = 0     # captures that failed at the time, posted now
    failed: int = 0     # due captures that failed again (the next sweep retries them)


def sweep_expired_holds(now: datetime | None = None, limit: int = 500) -> int:
    """Release holds whose request never finished (a crashed process). Returns how many."""
    return sweep(now, limit).released


def sweep(now: datetime | None = None, limit: int = 500) -> Sweep:
    """Post the captures that owe (each exactly once), then release the holds that expired owing nothing."""
    now = now or utcnow()
    posted = failed = 0
    with transaction() as tx:
        due = tx.all(sql.DUE_CAPTURES, {"limit": limit})
    for hold_id, cost, usage, pricing in due:
        usage = json.loads(usage) if isinstance(usage, str) else usage
        pricing = json.loads(pricing) if isinstance(pricing, str) else pricing
        try:
            capture(hold_id, int(cost), now=now, pricing=pricing, **usage)
            posted += 1
        except LedgerError:
            pass  # another sweeper posted it first
        except Exception:  # noqa: BLE001 (still owed: the next sweep tries again)
            failed += 1
            log.exception("posting the capture owed by hold %s failed", hold_id)
    with transaction() as tx:
        ids = [row[0] for row in tx.all(sql.EXPIRED_HOLDS, {"now": tx.time(now), "limit": limit})]
    released = 0
    for hold_id in ids:
        with transaction() as tx:
            hold = _resolve(tx, hold_id, "expired", 0, now)
            if hold is not None:
                _release_hold(tx, hold)
                released += 1
    return Sweep(released, posted, failed)


def recompute_balance(workspace_id: int) -> int:
    """The balance as the sum of the workspace's entries."""
    with unit_of_work(writes=False) as conn:
        return int(conn.execute(select(func.coalesce(func.sum(entries.c.amount_micro), 0))
                                .where(entries.c.workspace_id == workspace_id)).scalar_one())


def pending_held(workspace_id: int) -> int:
    """The sum of the workspace's pending holds, which must equal its `held_micro`."""
    with unit_of_work(writes=False) as conn:
        return int(conn.execute(select(func.coalesce(func.sum(holds.c.amount_micro), 0))
                                .where(and_(holds.c.workspace_id == workspace_id,
                                            holds.c.status == "pending"))).scalar_one())
