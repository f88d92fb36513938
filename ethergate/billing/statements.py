"""Every SQL statement that moves credits: holds, captures, releases and debits, in one place.

Lock order, everywhere: holds -> credit_accounts -> key_spend. The workspace's credit_accounts row is the
hot one (every request of the workspace updates it), so each transaction takes it as late as its logic
allows.

Two forms of the hold lifecycle live here side by side, and tests/billing/test_parity.py proves they
leave identical rows:

* the general path: short statements run one after another in one transaction (SQLite, and PostgreSQL
  whenever the single statement does not apply);
* PostgreSQL's fast path: a request's hold and its capture as one statement each, with data-modifying
  CTEs, run in autocommit. Through psycopg every transaction costs a BEGIN and a COMMIT round trip on top
  of its statements, and the credit_accounts row stays locked from its UPDATE until the COMMIT comes back;
  as one statement the change is one round trip and the row is locked only while the server executes it.
  Each statement does nothing at all when its condition fails (every step reads from the first), so the
  caller can fall back to the general path. Parameters inside `INSERT ... SELECT` are not typed by their
  target column, so every value is CAST to it.
"""
from __future__ import annotations

import re

from sqlalchemy.dialects import postgresql

from ..sqlfast import RowInsert, Statement

_PG = postgresql.dialect()

# The one spending guard: pending holds count against the balance.
AVAILABLE_COVERS = "balance_micro - held_micro >= :amount"
_HOLD_FUNDS = f"""
    UPDATE credit_accounts SET held_micro = held_micro + :amount
    WHERE workspace_id = :workspace_id AND {AVAILABLE_COVERS}"""
_RESOLVE_HOLD = """
    UPDATE holds SET status = :status, captured_micro = :cost, resolved_at = :now
    WHERE id = :hold_id AND status = 'pending'
    RETURNING workspace_id, amount_micro, api_key_id, key_month"""

INSERT_HOLD = Statement("""
    INSERT INTO holds (workspace_id, api_key_id, request_id, amount_micro, key_month, status, created_at, expires_at)
    VALUES (:workspace_id, :api_key_id, :request_id, :amount, :key_month, 'pending', :now, :expires_at)
    RETURNING id""")
HOLD_FUNDS = Statement(_HOLD_FUNDS + " RETURNING balance_micro")
MOVE_FUNDS = Statement("""
    UPDATE credit_accounts SET balance_micro = balance_micro + :amount, held_micro = held_micro + :held_delta
    WHERE workspace_id = :workspace_id RETURNING balance_micro""")
# A debit not tied to a hold (refunds, adjustments): :amount is what must be available, :delta what moves.
DEBIT_FUNDS = Statement(f"""
    UPDATE credit_accounts SET balance_micro = balance_micro + :delta
    WHERE workspace_id = :workspace_id AND {AVAILABLE_COVERS} RETURNING balance_micro""")
ACCOUNT = Statement("SELECT balance_micro, held_micro FROM credit_accounts WHERE workspace_id = :workspace_id")
ENSURE_KEY_MONTH = Statement("""
    INSERT INTO key_spend (api_key_id, month, spent_micro, held_micro) VALUES (:api_key_id, :month, 0, 0)
    ON CONFLICT DO NOTHING""")
HOLD_KEY_FUNDS = Statement("""
    UPDATE key_spend SET held_micro = held_micro + :amount
    WHERE api_key_id = :api_key_id AND month = :month AND spent_micro + held_micro + :amount <= :cap""")
KEY_MONTH = Statement("SELECT spent_micro, held_micro FROM key_spend WHERE api_key_id = :api_key_id AND month = :month")
RESOLVE_HOLD = Statement(_RESOLVE_HOLD)
# A capture after the sweep expired the hold (its funds are already released): the hold still resolves once.
RESOLVE_LATE_HOLD = Statement(_RESOLVE_HOLD.replace("status = 'pending'", "status = 'expired'"))
HOLD_STATE = Statement("SELECT status, workspace_id, api_key_id, key_month FROM holds WHERE id = :hold_id")
RELEASE_KEY_FUNDS = Statement("""
    UPDATE key_spend SET held_micro = held_micro - :held, spent_micro = spent_micro + :spent
    WHERE api_key_id = :api_key_id AND month = :month""")
# A hold that owes a capture is never released by expiry: the sweep posts what it owes instead.
EXPIRED_HOLDS = Statement("""
    SELECT id FROM holds WHERE status = 'pending' AND expires_at < :now AND capture_due_at IS NULL
    ORDER BY expires_at, id LIMIT :limit""")
DUE_CAPTURES = Statement("""
    SELECT id, capture_cost_micro, capture_usage, capture_pricing FROM holds
    WHERE status IN ('pending', 'expired') AND capture_due_at IS NOT NULL ORDER BY capture_due_at, id LIMIT :limit""")
MARK_CAPTURE_DUE = Statement("""
    UPDATE holds SET capture_due_at = :now, capture_cost_micro = :cost, capture_usage = :usage,
                     capture_pricing = :pricing
    WHERE id = :hold_id AND status IN ('pending', 'expired') AND capture_due_at IS NULL RETURNING id""")

RESERVE = Statement(f"""
    WITH funds AS ({_HOLD_FUNDS} RETURNING workspace_id)
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
    """PostgreSQL's one-statement capture for this combination (built once): only a pending hold is
    resolved; then the log row, the account (debit and release), the usage entry (its balance_after from
    the account's RETURNING) and the key's monthly spend. The entry's api_key_id comes from the hold unless
    the caller gave one; `log` is the row written with it, if any. Takes :status = 'captured'."""
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
        WITH hold AS ({_RESOLVE_HOLD}),{log_step}
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
