"""Times are stored as naive UTC so SQLite and PostgreSQL behave the same."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def month_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m")
