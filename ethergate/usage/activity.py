"""A workspace's recent activity for the dashboard: hourly requests, errors and cost, and its latest requests.

Hours are UTC hours, read from the request log (cost is each row's logged cost, the amount billed).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from ..extensions import db
from .models import RequestLog
from .service_health import hour_of

logs = RequestLog.__table__
HOURS = 24


@dataclass(frozen=True)
class Hour:
    start: datetime
    requests: int = 0
    errors: int = 0
    cost_micro: int = 0


def has_traffic(workspace_id: int) -> bool:
    return db.session.scalar(select(logs.c.id).where(logs.c.workspace_id == workspace_id).limit(1)) is not None


def hourly(workspace_id: int, now: datetime) -> list[Hour]:
    """The last HOURS UTC hours, this one included, oldest first, zero-filled."""
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    starts = [this_hour - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    hour = hour_of(logs.c.created_at, db.engine.dialect.name)
    query = (select(hour.label("hour"), func.count().label("requests"),
                    func.sum(case((logs.c.status_code >= 400, 1), else_=0)).label("errors"),
                    func.coalesce(func.sum(logs.c.cost_micro), 0).label("cost"))
             .where(logs.c.workspace_id == workspace_id, logs.c.created_at >= starts[0], logs.c.created_at <= now)
             .group_by(hour))
    found = {row.hour: row for row in db.session.execute(query)}
    hours = []
    for start in starts:
        row = found.get(start.strftime("%Y-%m-%d %H"))
        hours.append(Hour(start, int(row.requests), int(row.errors or 0), int(row.cost or 0)) if row else Hour(start))
    return hours


def recent(workspace_id: int, errors_only: bool = False, limit: int = 8) -> list[RequestLog]:
    query = select(RequestLog).where(RequestLog.workspace_id == workspace_id)
    if errors_only:
        query = query.where(RequestLog.status_code >= 400)
    return list(db.session.scalars(query.order_by(RequestLog.created_at.desc(), RequestLog.id.desc()).limit(limit)))
