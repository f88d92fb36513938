"""Open, resolve and list incident notes; each change is audited in the same transaction."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from ..accounts.services import record_audit
from ..database import unit_of_work
from ..extensions import db
from ..settings import PROVIDERS
from ..timeutil import utcnow
from .models import Incident

RESOLVED_SHOWN_DAYS = 7
TITLE_MAX = 200
BODY_MAX = 4000


class IncidentError(ValueError):
    """A note staff cannot save as written; the message says why."""


@unit_of_work()
def open_incident(title: str, body: str, provider: str | None, actor) -> Incident:
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise IncidentError("a title is required")
    if len(title) > TITLE_MAX or len(body) > BODY_MAX:
        raise IncidentError(f"the title is at most {TITLE_MAX} characters and the note at most {BODY_MAX}")
    if provider and provider not in PROVIDERS:
        raise IncidentError(f"provider must be one of {', '.join(PROVIDERS)}")
    incident = Incident(title=title, body=body, provider=provider or None, started_at=utcnow(),
                        created_by_user_id=actor.id if actor else None)
    db.session.add(incident)
    db.session.flush()
    record_audit("incident.opened", actor=actor, target=f"incident:{incident.id}", details={"title": title})
    return incident


@unit_of_work()
def resolve_incident(incident_id: int, resolution: str, actor) -> Incident:
    """Resolves once; resolving a resolved incident is refused rather than moving its end time."""
    incident = db.session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise IncidentError("no such incident")
    if incident.resolved_at is not None:
        raise IncidentError("this incident is already resolved")
    resolution = (resolution or "").strip()
    if len(resolution) > BODY_MAX:
        raise IncidentError(f"the note is at most {BODY_MAX} characters")
    incident.resolved_at, incident.resolution = utcnow(), resolution or None
    record_audit("incident.resolved", actor=actor, target=f"incident:{incident.id}")
    return incident


def public_incidents(now: datetime | None = None) -> list[Incident]:
    """Open incidents, then those resolved in the last week; newest first."""
    since = (now or utcnow()) - timedelta(days=RESOLVED_SHOWN_DAYS)
    return list(db.session.scalars(
        select(Incident).where(or_(Incident.resolved_at.is_(None), Incident.resolved_at >= since))
        .order_by(Incident.resolved_at.is_not(None), Incident.started_at.desc())))


def recent_incidents(limit: int = 50) -> list[Incident]:
    return list(db.session.scalars(select(Incident).order_by(Incident.started_at.desc()).limit(limit)))
