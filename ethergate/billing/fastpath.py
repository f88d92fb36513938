"""PostgreSQL: a request's hold and its capture, each as one statement that is its own transaction.

Through psycopg every transaction costs a BEGIN and a COMMIT round trip on top of its statements, and the
workspace's credit_accounts row (which every request of the workspace updates) stays locked from its
UPDATE until the COMMIT comes back: across client round trips, while other workers queue on it. With
data-modifying CTEs the same changes are one statement, run in autocommit: one round trip, and the row
is locked only while the server executes it.

Each statement does exactly what ledger.py's multi-statement version does, and nothing at all when its
condition fails (every step reads from the first), so the caller can fall back to the general path:

* reserve: funds held only if `balance - held >= amount`; the hold row only if the funds were held;
* capture: only a pending hold is resolved; then the log row, the account (debit and release), the
  usage entry (its balance_after from the account's RETURNING) and the key's monthly spend, in the one
  lock order holds -> credit_accounts -> key_spend.

SQLite has no DML in CTEs and no round trips to save; it keeps ledger.py's statements.
Parameters inside `INSERT ... SELECT` are not typed by their target column, so every value is CAST to it.
"""
from __future__ import annotations

import re

from sqlalchemy.dialects import postgresql

from ..sqlfast import RowInsert, Statement

_PG = postgresql.dialect()

RESERVE = Statement("""
    WITH funds AS (
        UPDATE credit_accounts SET held_micro = held_micro + :amount
        WHERE workspace_id = :workspace_id AND balance_micro - held_micro >= :amount
        RETURNING workspace_id)
    INSERT INTO holds (workspace_id, api_key_id, request_id, amount_micro, key_month, status, created_at, expires_at)
    SELECT workspace_id, CAST(:api_key_id AS INTEGER), CAST(:request_id AS VARCHAR), CAST(:amount AS BIGINT),
           CAST(NULL AS VARCHAR), 'pending', CAST(:now AS TIMESTAMP), CAST(:expires_at AS TIMESTAMP)
    FROM funds
    RETURNING id""")


def _cast(insert: RowInsert, name: str) -> str:
    # Without the length: an explicit cast to VARCHAR(n) truncates silently, while the column assignment
    # refuses an over-long value, as a plain INSERT does.
    sql_type = re.sub(r"\(\d+\)$", "", insert.column_objects[name].type.compile(dialect=_PG))
    return f"CAST(:{insert.param_name(name)} AS {sql_type})"


def _select_list(insert: RowInsert, computed: dict[str, str]) -> str:
    return ", ".join(computed.get(name) or _cast(insert, name) for name in insert.columns)


_captures: dict[tuple, Statement] = {}


def capture_statement(entries: RowInsert, log: RowInsert | None, key_from_hold: bool) -> Statement:
    """The capture statement for this combination (built once): the entry's api_key_id comes from the hold
    unless the caller gave one; `log` is the row written with it, if any."""
    cache_key = (id(entries), id(log), key_from_hold)
    found = _captures.get(cache_key)
    if found is not None:
        return found
    computed = {"workspace_id": "hold.workspace_id", "kind": "'usage'",
                "balance_after_micro": "(SELECT balance_micro FROM account)", "hold_id": "CAST(:hold_id AS BIGINT)"}
    if key_from_hold:
        computed["api_key_id"] = "hold.api_key_id"
    log_step = (f"""
        log AS (INSERT INTO {log.table} ({', '.join(log.columns)})
                SELECT {_select_list(log, {})} FROM hold),""" if log is not None else "")
    # A missing account leaves balance_after NULL, which the NOT NULL column refuses: the whole statement
    # fails, as the multi-statement capture does.
    statement = Statement(f"""
        WITH hold AS (
            UPDATE holds SET status = 'captured', captured_micro = :cost, resolved_at = :now
            WHERE id = :hold_id AND status = 'pending'
            RETURNING workspace_id, amount_micro, api_key_id, key_month),{log_step}
        account AS (
            UPDATE credit_accounts SET balance_micro = balance_micro - :cost,
                                       held_micro = held_micro - hold.amount_micro
            FROM hold WHERE credit_accounts.workspace_id = hold.workspace_id
            RETURNING credit_accounts.balance_micro),
        entry AS (
            INSERT INTO {entries.table} ({', '.join(entries.columns)})
            SELECT {_select_list(entries, computed)} FROM hold WHERE :cost > 0
            RETURNING id),
        spend AS (
            UPDATE key_spend SET held_micro = key_spend.held_micro - hold.amount_micro,
                                 spent_micro = key_spend.spent_micro + :cost
            FROM hold, account
            WHERE key_spend.api_key_id = hold.api_key_id AND key_spend.month = hold.key_month)
        SELECT hold.workspace_id, (SELECT balance_micro FROM account), (SELECT id FROM entry) FROM hold""")
    _captures[cache_key] = statement
    return statement
