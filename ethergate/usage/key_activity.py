"""What one key did over a period: totals, model mix, traffic per day, recent requests, month-to-date spend.

Requests, errors and tokens come from the request log; spend comes from the ledger's usage entries
(usage.spend), so the key's page agrees with the credits ledger to the micro-unit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select

from ..billing.models import KeySpend
from ..extensions import db
from ..timeutil import month_key, utcnow
from .models import RequestLog
from .spend import spend_by_day, spend_by_model, tokens_by_day, usage_totals

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
RECENT_REQUESTS = 20


@dataclass
class KeyActivity:
    days: int
    start: datetime
    totals: dict
    spend_micro: int
    models: list[dict] = field(default_factory=list)
    daily: list[dict] = field(default_factory=list)
    recent: list[RequestLog] = field(default_factory=list)
    month_spent_micro: int = 0
    month_held_micro: int = 0

    @property
    def tokens(self) -> int:
        return self.totals["prompt_tokens"] + self.totals["completion_tokens"]

    @property
    def error_rate(self) -> float:
        return self.totals["errors"] / self.totals["requests"] if self.totals["requests"] else 0.0


def period(value: int | None) -> int:
    return value if value in PERIODS else DEFAULT_PERIOD


def key_activity(workspace_id: int, key_id: int, days: int, now: datetime | None = None) -> KeyActivity:
    now = now or utcnow()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    scope = {"api_key_id": key_id, "start": start}
    totals = usage_totals(workspace_id, **scope)
    spend = spend_by_model(workspace_id, **scope)
    activity = KeyActivity(days=days, start=start, totals=totals,
                           spend_micro=sum(row["spend_micro"] for row in spend))
    activity.models = _model_mix(workspace_id, key_id, start, {row["model_id"]: row["spend_micro"] for row in spend})
    activity.daily = _daily(tokens_by_day(workspace_id, **scope), spend_by_day(workspace_id, **scope))
    activity.recent = _recent(workspace_id, key_id)
    activity.month_spent_micro, activity.month_held_micro = month_spend(workspace_id, key_id, now)
    return activity


def _model_mix(workspace_id: int, key_id: int, start: datetime, spend: dict) -> list[dict]:
    logs = RequestLog.__table__
    query = (select(logs.c.model_id, func.count().label("requests"),
                    func.coalesce(func.sum(case((logs.c.status_code >= 400, 1), else_=0)), 0).label("errors"),
                    func.coalesce(func.sum(logs.c.prompt_tokens + logs.c.completion_tokens), 0).label("tokens"))
             .where(logs.c.workspace_id == workspace_id, logs.c.api_key_id == key_id, logs.c.created_at >= start)
             .group_by(logs.c.model_id))
    rows = db.session.execute(query).all()
    total = sum(int(row.requests) for row in rows) or 1
    mix = {row.model_id: {"model_id": row.model_id, "requests": int(row.requests), "errors": int(row.errors),
                          "tokens": int(row.tokens), "spend_micro": 0} for row in rows}
    for model_id, micro in spend.items():
        mix.setdefault(model_id, {"model_id": model_id, "requests": 0, "errors": 0, "tokens": 0})["spend_micro"] = micro
    for row in mix.values():
        row["share"] = row["requests"] / total
    return sorted(mix.values(), key=lambda row: (-row["requests"], -row["spend_micro"], row["model_id"] or ""))


def _daily(tokens: list[dict], spend: list[dict]) -> list[dict]:
    days: dict[date, dict] = {}
    for row in tokens:
        days[row["day"]] = {"day": row["day"], "requests": row["requests"], "errors": row["errors"],
                            "tokens": row["prompt_tokens"] + row["completion_tokens"], "spend_micro": 0}
    for row in spend:
        days.setdefault(row["day"], {"day": row["day"], "requests": 0, "errors": 0, "tokens": 0})
        days[row["day"]]["spend_micro"] = row["spend_micro"]
    most = max((row["requests"] for row in days.values()), default=0) or 1
    for row in days.values():
        row["share"] = row["requests"] / most
    return sorted(days.values(), key=lambda row: row["day"], reverse=True)


def _recent(workspace_id: int, key_id: int) -> list[RequestLog]:
    rows = db.session.scalars(select(RequestLog).where(
        RequestLog.workspace_id == workspace_id, RequestLog.api_key_id == key_id)
        .order_by(RequestLog.created_at.desc(), RequestLog.id.desc()).limit(RECENT_REQUESTS)).all()
    return list(rows)


def month_spend(workspace_id: int, key_id: int, now: datetime | None = None) -> tuple[int, int]:
    """Spent this UTC month, from the ledger (every key has it; key_spend is kept only for capped keys), and held."""
    now = now or utcnow()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spent = sum(row["spend_micro"] for row in spend_by_model(workspace_id, api_key_id=key_id, start=month_start))
    row = db.session.get(KeySpend, (key_id, month_key(now)))
    held = int(row.held_micro or 0) if row is not None else 0
    return spent, held
