"""Spend and usage aggregates for a workspace, computed from the ledger and the request log.

Spend comes from "usage" ledger entries (what was actually debited); request and token counts come
from the request log. Both are summed at query time, never kept as counters, so a report always
agrees with the ledger. Filters: `api_key_id`, `model_id`, and a [start, end) range on created_at,
all naive UTC; days are UTC days.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.sql import ColumnElement

from ..billing.models import LedgerEntry
from ..database import unit_of_work
from .models import RequestLog

entries = LedgerEntry.__table__
logs = RequestLog.__table__


def _day(column, dialect: str) -> ColumnElement:
    """The UTC calendar day of a timestamp column, on either engine."""
    if dialect == "sqlite":
        return func.date(column)
    return cast(column, Date)


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _filters(table, workspace_id: int, api_key_id: int | None, model_id: str | None,
             start: datetime | None, end: datetime | None) -> list:
    conditions = [table.c.workspace_id == workspace_id]
    if api_key_id is not None:
        conditions.append(table.c.api_key_id == api_key_id)
    if model_id is not None:
        conditions.append(table.c.model_id == model_id)
    if start is not None:
        conditions.append(table.c.created_at >= start)
    if end is not None:
        conditions.append(table.c.created_at < end)
    return conditions


def _usage_filters(*args) -> list:
    return _filters(entries, *args) + [entries.c.kind == "usage"]


def _spend():
    return func.coalesce(-func.sum(entries.c.amount_micro), 0)


def _rows(build):
    """Run `build(dialect)` and end the read at once: exports call this between batches sent to the client."""
    with unit_of_work(writes=False) as conn:
        return conn.execute(build(conn.dialect.name)).all()


def spend_by_day(workspace_id: int, api_key_id: int | None = None, model_id: str | None = None,
                 start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """[{"day": date, "spend_micro", "charges"}] for days with any charge, oldest first."""
    where = _usage_filters(workspace_id, api_key_id, model_id, start, end)

    def build(dialect):
        day = _day(entries.c.created_at, dialect).label("day")
        return (select(day, _spend().label("spend"), func.count().label("charges"))
                .where(*where).group_by(day).order_by(day))

    return [{"day": _as_date(r.day), "spend_micro": int(r.spend), "charges": int(r.charges)}
            for r in _rows(build)]


def spend_by_model(workspace_id: int, api_key_id: int | None = None, model_id: str | None = None,
                   start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """[{"model_id", "spend_micro", "charges"}], biggest spend first."""
    where = _usage_filters(workspace_id, api_key_id, model_id, start, end)

    def build(_dialect):
        spend = _spend().label("spend")
        return (select(entries.c.model_id, spend, func.count().label("charges"))
                .where(*where).group_by(entries.c.model_id).order_by(spend.desc(), entries.c.model_id))

    return [{"model_id": r.model_id, "spend_micro": int(r.spend), "charges": int(r.charges)}
            for r in _rows(build)]


def spend_by_key(workspace_id: int, api_key_id: int | None = None, model_id: str | None = None,
                 start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """[{"api_key_id", "spend_micro", "charges"}], biggest spend first; None is a deleted key."""
    where = _usage_filters(workspace_id, api_key_id, model_id, start, end)

    def build(_dialect):
        spend = _spend().label("spend")
        return (select(entries.c.api_key_id, spend, func.count().label("charges"))
                .where(*where).group_by(entries.c.api_key_id).order_by(spend.desc(), entries.c.api_key_id))

    return [{"api_key_id": r.api_key_id, "spend_micro": int(r.spend), "charges": int(r.charges)}
            for r in _rows(build)]


TOKEN_COLUMNS = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")


def _log_sums() -> list:
    return ([func.count().label("requests"),
             func.coalesce(func.sum(case((logs.c.status_code >= 400, 1), else_=0)), 0).label("errors")]
            + [func.coalesce(func.sum(logs.c[name]), 0).label(name) for name in TOKEN_COLUMNS]
            + [func.coalesce(func.sum(logs.c.cost_micro), 0).label("cost_micro")])


def _log_dict(row) -> dict:
    return {name: int(getattr(row, name)) for name in ("requests", "errors", *TOKEN_COLUMNS, "cost_micro")}


def usage_totals(workspace_id: int, api_key_id: int | None = None, model_id: str | None = None,
                 start: datetime | None = None, end: datetime | None = None) -> dict:
    """Requests, errors (status >= 400), token counts and logged cost over the request log."""
    where = _filters(logs, workspace_id, api_key_id, model_id, start, end)
    return _log_dict(_rows(lambda _dialect: select(*_log_sums()).where(*where))[0])


def tokens_by_day(workspace_id: int, api_key_id: int | None = None, model_id: str | None = None,
                  start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """usage_totals per UTC day ({"day": date, ...}) for days with any request, oldest first."""
    where = _filters(logs, workspace_id, api_key_id, model_id, start, end)

    def build(dialect):
        day = _day(logs.c.created_at, dialect).label("day")
        return select(day, *_log_sums()).where(*where).group_by(day).order_by(day)

    return [{"day": _as_date(r.day), **_log_dict(r)} for r in _rows(build)]
