"""Request-log reports for the Usage pages: one workspace, one filter, every query scoped by workspace.

`usage.spend` already sums totals, tokens per day and ledger spend; this module adds what the
Usage pages need on top: zero-filled daily series, model mix, errors by code, the paginated and
searchable request log, its CSV rows, and one request with its ledger entries. Days are UTC days
and every timestamp is naive UTC, as everywhere else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Iterator

from sqlalchemy import Date, case, cast, func, or_, select
from sqlalchemy.sql import ColumnElement

from ..billing.models import LedgerEntry
from ..database import unit_of_work
from ..extensions import db
from ..keys.models import ApiKey
from . import spend as spend_reports
from .models import RequestLog

logs = RequestLog.__table__
MAX_DAYS = 366
DEFAULT_DAYS = 14
PER_PAGE = 50
EXPORT_BATCH = 1000
REQUEST_ID_VARIANTS = 20
HOURLY_MAX_DAYS = 2          # ranges up to 48 hours are charted per hour
STATUSES = ("errors", "ok")
# The request log's sortable columns; "-name" sorts descending. Ties fall back to newest first.
SORTS = {"time": logs.c.created_at, "latency": logs.c.latency_ms, "cost": logs.c.cost_micro,
         "tokens": logs.c.prompt_tokens + logs.c.completion_tokens}
DEFAULT_SORT = "-time"


def day_of(column, dialect: str) -> ColumnElement:
    """The UTC calendar day of a timestamp column, on either engine."""
    return func.date(column) if dialect == "sqlite" else cast(column, Date)


def hour_of(column, dialect: str) -> ColumnElement:
    """The UTC hour of a timestamp column as text "YYYY-MM-DD HH", the same on either engine."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H", column)
    return func.to_char(column, "YYYY-MM-DD HH24")


def as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class UsageFilter:
    """What a Usage page shows: a workspace, an inclusive range of UTC days, and optional narrowing."""
    workspace_id: int
    first_day: date
    last_day: date
    api_key_id: int | None = None
    model_id: str | None = None
    request_id: str | None = None    # a prefix; narrows the request log and its export only
    status: str | None = None        # "errors" (status >= 400) or "ok"; narrows the request log and its export only

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time.min)

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]

    def conditions(self, with_search: bool = False) -> list:
        where = [logs.c.workspace_id == self.workspace_id, logs.c.created_at >= self.start,
                 logs.c.created_at < self.end]
        if self.api_key_id is not None:
            where.append(logs.c.api_key_id == self.api_key_id)
        if self.model_id is not None:
            where.append(logs.c.model_id == self.model_id)
        if with_search and self.request_id:
            where.append(logs.c.request_id.like(escape_like(self.request_id) + "%", escape="\\"))
        if with_search and self.status in STATUSES:
            where.append(logs.c.status_code >= 400 if self.status == "errors" else logs.c.status_code < 400)
        return where

    def report_args(self) -> dict:
        return dict(api_key_id=self.api_key_id, model_id=self.model_id, start=self.start, end=self.end)


def default_range(today: date, days: int = DEFAULT_DAYS) -> tuple[date, date]:
    return today - timedelta(days=days - 1), today


def _rows(build):
    """Run `build(dialect)`: the query fits the database's SQL dialect."""
    conn = db.session.connection()
    return conn.execute(build(conn.dialect.name)).all()


@dataclass
class Totals:
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_micro: int = 0          # what the request log says each request cost
    spend_micro: int = 0         # what the ledger debited; the number billing agrees with

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


def totals(usage: UsageFilter) -> Totals:
    logged = spend_reports.usage_totals(usage.workspace_id, **usage.report_args())
    spend = sum(row["spend_micro"] for row in spend_reports.spend_by_model(usage.workspace_id,
                                                                             **usage.report_args()))
    return Totals(**logged, spend_micro=spend)


@dataclass
class Day:
    day: date
    totals: Totals = field(default_factory=Totals)


def daily(usage: UsageFilter) -> list[Day]:
    """One entry per day of the range, days without traffic included (a chart needs the gaps)."""
    days = {day: Day(day) for day in usage.days}
    for row in spend_reports.tokens_by_day(usage.workspace_id, **usage.report_args()):
        if row["day"] in days:
            days[row["day"]].totals = Totals(**{k: v for k, v in row.items() if k != "day"})
    for row in spend_reports.spend_by_day(usage.workspace_id, **usage.report_args()):
        if row["day"] in days:
            days[row["day"]].totals.spend_micro = row["spend_micro"]
    return list(days.values())


LOG_SUMS = ("requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
            "cost_micro")


def _log_sums() -> list:
    """The request log's sums per bucket, named as Totals' fields."""
    return ([func.count().label("requests"),
             func.coalesce(func.sum(case((logs.c.status_code >= 400, 1), else_=0)), 0).label("errors")]
            + [func.coalesce(func.sum(logs.c[name]), 0).label(name) for name in LOG_SUMS[2:]])


@dataclass
class Hour:
    start: datetime
    totals: Totals = field(default_factory=Totals)


def hourly(usage: UsageFilter) -> list[Hour]:
    """One entry per UTC hour of the range (at most HOURLY_MAX_DAYS days), empty hours included."""
    hours = {usage.start + timedelta(hours=n): None for n in range(len(usage.days) * 24)}
    found = {start: Hour(start) for start in hours}
    where = usage.conditions()

    def requests(dialect):
        hour = hour_of(logs.c.created_at, dialect).label("hour")
        return select(hour, *_log_sums()).where(*where).group_by(hour)

    for row in _rows(requests):
        start = datetime.strptime(row.hour, "%Y-%m-%d %H")
        if start in found:
            found[start].totals = Totals(**{name: int(getattr(row, name)) for name in LOG_SUMS})
    entries = LedgerEntry.__table__
    spent = [entries.c.workspace_id == usage.workspace_id, entries.c.kind == "usage",
             entries.c.created_at >= usage.start, entries.c.created_at < usage.end]
    if usage.api_key_id is not None:
        spent.append(entries.c.api_key_id == usage.api_key_id)
    if usage.model_id is not None:
        spent.append(entries.c.model_id == usage.model_id)

    def spend(dialect):
        hour = hour_of(entries.c.created_at, dialect).label("hour")
        return (select(hour, func.coalesce(-func.sum(entries.c.amount_micro), 0).label("spend"))
                .where(*spent).group_by(hour))

    for row in _rows(spend):
        start = datetime.strptime(row.hour, "%Y-%m-%d %H")
        if start in found:
            found[start].totals.spend_micro = int(row.spend)
    return list(found.values())


@dataclass(frozen=True)
class ModelShare:
    model_id: str | None
    requests: int
    errors: int
    tokens: int
    cost_micro: int
    share: float              # of the range's spend (of its requests when nothing was spent)
    spend_micro: int = 0      # debited by the ledger


def model_mix(usage: UsageFilter) -> list[ModelShare]:
    """Requests, errors, tokens, logged cost and ledger spend per model, biggest spend first."""
    where = usage.conditions()

    def build(_dialect):
        requests = func.count().label("requests")
        return (select(logs.c.model_id, requests,
                       func.coalesce(func.sum(case((logs.c.status_code >= 400, 1), else_=0)), 0).label("errors"),
                       func.coalesce(func.sum(logs.c.prompt_tokens + logs.c.completion_tokens), 0).label("tokens"),
                       func.coalesce(func.sum(logs.c.cost_micro), 0).label("cost"))
                .where(*where).group_by(logs.c.model_id).order_by(requests.desc(), logs.c.model_id))

    rows = _rows(build)
    spend = {row["model_id"]: row["spend_micro"]
             for row in spend_reports.spend_by_model(usage.workspace_id, **usage.report_args())}
    total_spend = sum(spend.values())
    total = (total_spend or sum(int(r.requests) for r in rows)) or 1
    mix = [ModelShare(r.model_id, int(r.requests), int(r.errors), int(r.tokens), int(r.cost),
                      (spend.get(r.model_id, 0) if total_spend else int(r.requests)) / total, spend.get(r.model_id, 0))
           for r in rows]
    return sorted(mix, key=lambda row: (-row.spend_micro, -row.requests, row.model_id or ""))


@dataclass(frozen=True)
class ErrorCount:
    status_code: int
    error_code: str | None
    count: int
    last_seen: datetime
    last_request_id: str | None


def errors_by_code(usage: UsageFilter) -> list[ErrorCount]:
    """Failed requests (status >= 400) grouped by status and EtherGate error code, most frequent first."""
    where = usage.conditions() + [logs.c.status_code >= 400]

    def build(_dialect):
        count = func.count().label("count")
        return (select(logs.c.status_code, logs.c.error_code, count, func.max(logs.c.created_at).label("last"))
                .where(*where).group_by(logs.c.status_code, logs.c.error_code)
                .order_by(count.desc(), logs.c.status_code, logs.c.error_code))

    groups = _rows(build)
    found = []
    for row in groups:
        # The newest request of each group, so the table can link to an example.
        example = db.session.scalar(
            select(logs.c.request_id).where(*where, logs.c.status_code == row.status_code,
                                            logs.c.error_code.is_(None) if row.error_code is None
                                            else logs.c.error_code == row.error_code)
            .order_by(logs.c.created_at.desc(), logs.c.id.desc()).limit(1))
        found.append(ErrorCount(int(row.status_code), row.error_code, int(row.count), row.last, example))
    return found


@dataclass(frozen=True)
class LogRow:
    log: RequestLog
    key_name: str | None
    key_prefix: str | None


@dataclass(frozen=True)
class LogPage:
    rows: list[LogRow]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _with_keys(found: list[RequestLog]) -> list[LogRow]:
    ids = {row.api_key_id for row in found if row.api_key_id is not None}
    keys = {}
    if ids:
        keys = {k.id: k for k in db.session.scalars(select(ApiKey).where(ApiKey.id.in_(ids)))}
    return [LogRow(row, getattr(keys.get(row.api_key_id), "name", None), getattr(keys.get(row.api_key_id), "prefix", None))
            for row in found]


def log_order(sort: str) -> list:
    """ORDER BY for a SORTS name ("-" first for descending); missing values (no latency) sort last."""
    column = SORTS.get(sort.lstrip("-"), SORTS["time"])
    ordered = column.desc() if sort.startswith("-") else column.asc()
    return [ordered.nulls_last(), logs.c.created_at.desc(), logs.c.id.desc()]


def request_log(usage: UsageFilter, page: int = 1, per_page: int = PER_PAGE, sort: str = DEFAULT_SORT) -> LogPage:
    """One page of the request log, newest first unless `sort` says otherwise; `request_id` narrows it to
    IDs starting with it."""
    page = max(page, 1)
    found = list(db.session.scalars(
        select(RequestLog).where(*usage.conditions(with_search=True))
        .order_by(*log_order(sort))
        .offset((page - 1) * per_page).limit(per_page + 1)))
    rows = _with_keys(found[:per_page])
    return LogPage(rows, page, len(found) > per_page)


def export_rows(usage: UsageFilter, batch: int = EXPORT_BATCH) -> Iterator[LogRow]:
    """Every row of the filtered request log, newest first, read in short transactions.

    Batches continue after the last (created_at, id) seen, so a long export never holds a transaction
    open while the client downloads.
    """
    after: tuple[datetime, int] | None = None
    while True:
        query = select(RequestLog).where(*usage.conditions(with_search=True))
        if after is not None:
            query = query.where(or_(RequestLog.created_at < after[0],
                                    (RequestLog.created_at == after[0]) & (RequestLog.id < after[1])))
        with unit_of_work(writes=False):  # ends before the batch goes to the client
            found = list(db.session.scalars(query.order_by(RequestLog.created_at.desc(), RequestLog.id.desc())
                                            .limit(batch)))
            rows = _with_keys(found)
        yield from rows
        if len(found) < batch:
            return
        after = (found[-1].created_at, found[-1].id)


def find_request(workspace_id: int, request_id: str) -> list[RequestLog]:
    """The workspace's rows with this request ID, newest first (clients may reuse their own IDs)."""
    found = list(db.session.scalars(
        select(RequestLog).where(RequestLog.workspace_id == workspace_id, RequestLog.request_id == request_id)
        .order_by(RequestLog.created_at.desc(), RequestLog.id.desc()).limit(REQUEST_ID_VARIANTS)))
    return found


def key_of(workspace_id: int, api_key_id: int | None) -> ApiKey | None:
    if api_key_id is None:
        return None
    return db.session.scalar(select(ApiKey).where(ApiKey.id == api_key_id, ApiKey.workspace_id == workspace_id))


def ledger_entries(workspace_id: int, log: RequestLog) -> list[LedgerEntry]:
    """The ledger entries of one request: the debit of its hold, and any entry referring to its ID.

    A client may reuse a request ID, so entries that carry a hold belong to this row only through it.
    """
    match = (LedgerEntry.request_id == log.request_id) & LedgerEntry.hold_id.is_(None)
    if log.hold_id is not None:
        match = or_(LedgerEntry.hold_id == log.hold_id, match)
    entries = list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.workspace_id == workspace_id, match)
                                      .order_by(LedgerEntry.created_at, LedgerEntry.id)))
    return entries


def workspace_keys(workspace_id: int) -> list[ApiKey]:
    """Every key of the workspace, revoked ones included: their history stays in the log."""
    keys = list(db.session.scalars(select(ApiKey).where(ApiKey.workspace_id == workspace_id)
                                   .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))
    return keys
