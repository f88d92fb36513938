"""Writing request log rows: inside the billing transaction when there is one, alone otherwise.

Every /v1 request's row is built by `log_values`, so the request metrics are counted there, once.
"""
from __future__ import annotations

from ..observability.metrics import observe_request
from ..sqlfast import RowInsert, Transaction, transaction
from ..timeutil import utcnow
from .models import RequestLog

table = RequestLog.__table__
# Written once: every /v1 request inserts one row (see sqlfast for why not a Core insert per call).
INSERT_LOG = RowInsert(table, returning_id=False)
COLUMNS = {c.name for c in table.columns} - {"id"}
DEFAULTS = dict(prompt_tokens=0, completion_tokens=0, cached_tokens=0, reasoning_tokens=0, cost_micro=0,
                estimated=False, cancelled=False, stream=False)


def log_values(**fields) -> dict:
    unknown = set(fields) - COLUMNS
    if unknown:
        raise ValueError(f"unknown request log fields: {sorted(unknown)}")
    values = dict(DEFAULTS)
    values.update(fields)
    values.setdefault("created_at", utcnow())
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            # Client text (a path, a model name) may carry NUL, which PostgreSQL text cannot store.
            values[name] = value.replace("\x00", "\ufffd")
    if values.get("error_message"):
        values["error_message"] = values["error_message"][:2000]
    if values.get("user_agent"):
        values["user_agent"] = values["user_agent"][:255]
    observe_request(values)
    return values


def insert_log(tx: Transaction, values: dict) -> None:
    tx.insert(INSERT_LOG, values)


def record_request(values: dict) -> None:
    with transaction() as tx:
        insert_log(tx, values)
