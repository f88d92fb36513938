"""What the support console reads: searches, a request's whole trace, a workspace at a glance.

Each function loads everything its page shows (no lazy loads while rendering); the read ends with the request.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select

from ..accounts.models import Membership, User, Workspace
from ..billing.ledger import account_state
from ..billing.models import Hold, LedgerEntry
from ..extensions import db
from ..observability.request_ids import SANE_REQUEST_ID
from ..keys.models import ApiKey
from ..keys.tokens import DISPLAY_CHARS, KEY_PREFIX
from ..timeutil import utcnow
from ..usage.models import RequestLog

SEARCH_LIMIT = 20
TRACE_ROWS = 20
RECENT = 50
MIN_FRAGMENT = 2
# What people paste after a key prefix: the console's ellipsis, or three dots.
PREFIX_TAIL = re.compile(r"(…|\.\.\.|\s)+$")


@dataclass
class KeyHit:
    key: ApiKey
    workspace: Workspace
    status: str


@dataclass
class UserHit:
    user: User
    memberships: list[tuple[Workspace, str]]


@dataclass
class SearchResults:
    query: str
    requests: list[tuple[RequestLog, Workspace | None]] = field(default_factory=list)
    workspaces: list[Workspace] = field(default_factory=list)
    users: list[UserHit] = field(default_factory=list)
    keys: list[KeyHit] = field(default_factory=list)
    too_short: bool = False

    @property
    def empty(self) -> bool:
        return not (self.requests or self.workspaces or self.users or self.keys)

    @property
    def only_requests(self) -> bool:
        return bool(self.requests) and not (self.workspaces or self.users or self.keys)


def search(text: str) -> SearchResults:
    """Request IDs match exactly; workspaces by slug or name fragment, users by email fragment, keys by prefix."""
    query = (text or "").strip()[:254]
    results = SearchResults(query=query)
    if not query:
        return results
    if SANE_REQUEST_ID.match(query):
        rows = db.session.scalars(select(RequestLog).where(RequestLog.request_id == query)
                                  .order_by(RequestLog.created_at.desc(), RequestLog.id.desc())
                                  .limit(TRACE_ROWS)).all()
        names = _workspaces({row.workspace_id for row in rows})
        results.requests = [(row, names.get(row.workspace_id)) for row in rows]
    if query.lower().startswith(KEY_PREFIX):
        results.keys = _keys_by_prefix(PREFIX_TAIL.sub("", query))
    if len(query) < MIN_FRAGMENT:
        results.too_short = True
    else:
        results.workspaces = _workspaces_like(query)
        results.users = _users_like(query)
    return results


def _workspaces(ids: set) -> dict[int, Workspace]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {w.id: w for w in db.session.scalars(select(Workspace).where(Workspace.id.in_(ids)))}


def _workspaces_like(text: str) -> list[Workspace]:
    fragment = text.lower()
    return list(db.session.scalars(
        select(Workspace).where(or_(Workspace.slug.contains(fragment, autoescape=True),
                                    func.lower(Workspace.name).contains(fragment, autoescape=True)))
        .order_by(Workspace.slug != fragment, func.lower(Workspace.name), Workspace.id).limit(SEARCH_LIMIT)))


def _users_like(text: str) -> list[UserHit]:
    users = list(db.session.scalars(select(User).where(User.email.contains(text.lower(), autoescape=True))
                                    .order_by(User.email).limit(SEARCH_LIMIT)))
    return [UserHit(user, memberships_of(user.id)) for user in users]


def memberships_of(user_id: int) -> list[tuple[Workspace, str]]:
    rows = db.session.execute(select(Workspace, Membership.role)
                              .join(Membership, Membership.workspace_id == Workspace.id)
                              .where(Membership.user_id == user_id).order_by(func.lower(Workspace.name))).all()
    return [(workspace, role) for workspace, role in rows]


def _keys_by_prefix(text: str) -> list[KeyHit]:
    # The stored prefix is the key's first 8 characters; a longer paste (even a whole key) matches on those.
    if len(text) >= DISPLAY_CHARS:
        condition = ApiKey.prefix == text[:DISPLAY_CHARS]
    else:
        condition = ApiKey.prefix.startswith(text, autoescape=True)
    rows = db.session.execute(select(ApiKey, Workspace).join(Workspace, Workspace.id == ApiKey.workspace_id)
                              .where(condition).order_by(ApiKey.created_at.desc()).limit(SEARCH_LIMIT)).all()
    now = utcnow()
    return [KeyHit(key, workspace, key.status(now)) for key, workspace in rows]


@dataclass
class RowTrace:
    """One request-log row with everything it touched."""
    log: RequestLog
    workspace: Workspace | None
    key: ApiKey | None
    key_status: str | None
    hold: Hold | None
    entries: list[LedgerEntry]

    @property
    def total_tokens(self) -> int:
        return self.log.prompt_tokens + self.log.completion_tokens

    @property
    def attempts(self) -> list[dict]:
        return [a for a in (self.log.attempts or []) if isinstance(a, dict)]


@dataclass
class Trace:
    request_id: str
    rows: list[RowTrace]
    unmatched_holds: list[Hold]
    unmatched_entries: list[LedgerEntry]
    workspaces: dict[int, Workspace]
    truncated: bool

    @property
    def found(self) -> bool:
        return bool(self.rows or self.unmatched_holds or self.unmatched_entries)


def request_trace(request_id: str) -> Trace:
    """Every log row with this request ID (clients may reuse one), with its key, hold and ledger entries.

    Holds and entries that carry the ID but belong to no row (a process that died mid-request leaves a
    hold and no log row) are listed apart, so support still sees them.
    """
    rows = list(db.session.scalars(select(RequestLog).where(RequestLog.request_id == request_id)
                                   .order_by(RequestLog.created_at, RequestLog.id).limit(TRACE_ROWS + 1)))
    truncated = len(rows) > TRACE_ROWS
    rows = rows[:TRACE_ROWS]
    hold_ids = {row.hold_id for row in rows if row.hold_id is not None}
    holds = {hold.id: hold for hold in db.session.scalars(
        select(Hold).where(or_(Hold.id.in_(hold_ids), Hold.request_id == request_id)).order_by(Hold.id))}
    entries = list(db.session.scalars(
        select(LedgerEntry).where(or_(LedgerEntry.request_id == request_id, LedgerEntry.hold_id.in_(set(holds))))
        .order_by(LedgerEntry.id)))
    key_ids = {row.api_key_id for row in rows if row.api_key_id is not None}
    keys = {key.id: key for key in db.session.scalars(select(ApiKey).where(ApiKey.id.in_(key_ids)))} \
        if key_ids else {}
    workspaces = _workspaces({row.workspace_id for row in rows} | {h.workspace_id for h in holds.values()}
                             | {e.workspace_id for e in entries})

    now = utcnow()
    traced, used_holds, used_entries = [], set(), set()
    for row in rows:
        mine = [e for e in entries if _entry_belongs(e, row, request_id)]
        used_entries.update(e.id for e in mine)
        hold = holds.get(row.hold_id) if row.hold_id is not None else None
        if hold is not None:
            used_holds.add(hold.id)
        key = keys.get(row.api_key_id)
        traced.append(RowTrace(log=row, workspace=workspaces.get(row.workspace_id), key=key,
                               key_status=key.status(now) if key else None, hold=hold, entries=mine))
    return Trace(request_id=request_id, rows=traced,
                 unmatched_holds=[h for h in holds.values() if h.id not in used_holds],
                 unmatched_entries=[e for e in entries if e.id not in used_entries],
                 workspaces=workspaces, truncated=truncated)


def _entry_belongs(entry: LedgerEntry, row: RequestLog, request_id: str) -> bool:
    if row.hold_id is None:
        return False
    if entry.hold_id is not None:
        return entry.hold_id == row.hold_id
    # Usage captured after its hold expired keeps the request ID but loses the hold reference.
    return entry.request_id == request_id and entry.workspace_id == row.workspace_id


@dataclass
class Member:
    user: User
    role: str
    joined_at: object


@dataclass
class WorkspaceOverview:
    workspace: Workspace
    balance_micro: int
    held_micro: int
    members: list[Member]
    keys: list[KeyHit]
    errors: list[tuple[RequestLog, ApiKey | None]]
    entries: list[LedgerEntry]

    @property
    def available_micro(self) -> int:
        return self.balance_micro - self.held_micro


def workspace_by_slug(slug: str) -> Workspace | None:
    workspace = db.session.scalar(select(Workspace).where(Workspace.slug == slug))
    return workspace


def workspace_overview(workspace: Workspace) -> WorkspaceOverview:
    members = [Member(user, role, joined) for user, role, joined in db.session.execute(
        select(User, Membership.role, Membership.created_at).join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace.id).order_by(Membership.created_at, Membership.id))]
    now = utcnow()
    keys = [KeyHit(key, workspace, key.status(now)) for key in db.session.scalars(
        select(ApiKey).where(ApiKey.workspace_id == workspace.id).order_by(ApiKey.created_at.desc(), ApiKey.id.desc()))]
    by_id = {hit.key.id: hit.key for hit in keys}
    errors = [(row, by_id.get(row.api_key_id)) for row in db.session.scalars(
        select(RequestLog).where(RequestLog.workspace_id == workspace.id, RequestLog.status_code >= 400)
        .order_by(RequestLog.created_at.desc(), RequestLog.id.desc()).limit(RECENT))]
    entries = list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.workspace_id == workspace.id)
                                      .order_by(LedgerEntry.id.desc()).limit(RECENT)))
    balance, held = account_state(workspace.id, db.session.connection())
    return WorkspaceOverview(workspace=workspace, balance_micro=balance, held_micro=held, members=members,
                             keys=keys, errors=errors, entries=entries)
