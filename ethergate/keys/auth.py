"""Who is calling /v1: the bearer key, resolved from a per-process cache or one indexed query.

Each app keeps a small cache of digest -> key (or "no such key") for KEY_CACHE_SECONDS. Revoking,
rotating or editing a key through `keys.services` drops its entry in the process that made the change;
other processes pick the change up when their entry ages out, so within KEY_CACHE_SECONDS. Expiry and
revocation times are compared with the clock on every call, cached or not, so a rotation's grace period
ends on time.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from ..accounts.models import Workspace
from ..database import unit_of_work
from ..extensions import db
from ..timeutil import utcnow
from .models import ApiKey
from .tokens import KEY_PREFIX, KEY_RANDOM_CHARS, digest_key

log = logging.getLogger(__name__)

CACHE_MAX_KEYS = 10_000
# Unknown keys get their own, smaller cache so random guesses cannot evict real keys.
CACHE_MAX_UNKNOWN = 2_000
TOUCH_INTERVAL_SECONDS = 60.0
TOKEN_RE = re.compile(rf"{re.escape(KEY_PREFIX)}[A-Za-z0-9_-]{{{KEY_RANDOM_CHARS}}}")
TOKEN_LENGTH = len(KEY_PREFIX) + KEY_RANDOM_CHARS
STATE_KEY = "ethergate.key_auth"


@dataclass(frozen=True)
class AuthenticatedKey:
    id: int
    workspace_id: int
    prefix: str
    name: str
    rpm_limit: int
    tpm_limit: int | None
    monthly_spend_cap_micro: int | None
    allowed_models: frozenset | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def is_active(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now

    def allows_model(self, model_id: str, aliases=()) -> bool:
        """True when the key has no model list, or lists the model by its ID or by any of its aliases."""
        if self.allowed_models is None:
            return True
        return model_id in self.allowed_models or any(alias in self.allowed_models for alias in aliases)


class _TTLCache:
    """A bounded least-recently-used map whose entries also age out after a time to live."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, ttl: float, now: float) -> tuple[bool, object]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False, None
            if now - entry[0] >= ttl:
                del self._entries[key]
                return False, None
            self._entries.move_to_end(key)
            return True, entry[1]

    def put(self, key: str, value: object, now: float) -> None:
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def discard(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class _KeyAuthState:
    def __init__(self):
        self.known = _TTLCache(CACHE_MAX_KEYS)
        self.unknown = _TTLCache(CACHE_MAX_UNKNOWN)
        self.touched: dict[int, float] = {}
        self.touch_lock = threading.Lock()


_state_lock = threading.Lock()


def _state(app: Flask) -> _KeyAuthState:
    state = app.extensions.get(STATE_KEY)
    if state is None:
        with _state_lock:
            state = app.extensions.setdefault(STATE_KEY, _KeyAuthState())
    return state


def bearer_token(authorization_header: str | None) -> str | None:
    """The cr_ key from `Authorization: Bearer cr_...`, or None when the header is missing or malformed."""
    if not authorization_header:
        return None
    parts = authorization_header.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    token = parts[1].strip()
    if len(token) != TOKEN_LENGTH or not TOKEN_RE.fullmatch(token):
        return None
    return token


def authenticate(authorization_header: str | None, *, now: datetime | None = None,
                 clock: float | None = None) -> AuthenticatedKey | None:
    """The active key behind the header, or None for a missing, malformed, unknown, revoked or expired key.

    `now` (wall time, for expiry and grace) and `clock` (monotonic, for the cache) default to the real ones."""
    token = bearer_token(authorization_header)
    if token is None:
        return None
    digest = digest_key(token)
    state = _state(current_app)
    ttl = current_app.config["KEY_CACHE_SECONDS"]
    clock = time.monotonic() if clock is None else clock
    found, key = state.known.get(digest, ttl, clock)
    if not found:
        found, key = state.unknown.get(digest, ttl, clock)
    if not found:
        key = load_key(digest)
        (state.known if key is not None else state.unknown).put(digest, key, clock)
    if key is None or not key.is_active(now or utcnow()):
        return None
    return key


# The console's playground runs /v1 in-process and names its key here. WSGI servers put client headers under
# HTTP_*, so no caller on the network can set this environ key.
CONSOLE_KEY_ENVIRON = "ethergate.console_key_id"


def authenticate_console(key_id: int) -> AuthenticatedKey | None:
    """The active key with this id, for a request the console itself made (see CONSOLE_KEY_ENVIRON)."""
    with unit_of_work(writes=False):
        digest = db.session.scalar(select(ApiKey.digest).where(ApiKey.id == key_id))
    key = load_key(digest) if digest else None
    if key is None or not key.is_active(utcnow()):
        return None
    return key


def load_key(digest: str) -> AuthenticatedKey | None:
    """One query by digest, joined to the workspace for its default limit; the transaction ends at once."""
    keys, workspaces = ApiKey.__table__, Workspace.__table__
    query = (select(keys.c.id, keys.c.workspace_id, keys.c.prefix, keys.c.name, keys.c.rpm_limit,
                    keys.c.tpm_limit, keys.c.monthly_spend_cap_micro, keys.c.allowed_models, keys.c.expires_at,
                    keys.c.revoked_at, workspaces.c.default_rpm)
             .select_from(keys.join(workspaces, workspaces.c.id == keys.c.workspace_id))
             .where(keys.c.digest == digest))
    with unit_of_work(writes=False) as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    allowed = frozenset(row.allowed_models) if row.allowed_models else None
    return AuthenticatedKey(
        id=row.id, workspace_id=row.workspace_id, prefix=row.prefix, name=row.name,
        rpm_limit=row.rpm_limit or row.default_rpm or current_app.config["DEFAULT_RPM"],
        tpm_limit=row.tpm_limit, monthly_spend_cap_micro=row.monthly_spend_cap_micro, allowed_models=allowed,
        expires_at=row.expires_at, revoked_at=row.revoked_at)


def forget_key(digest: str) -> None:
    """Drops a key from this process's cache so the next request reads it again."""
    state = _state(current_app)
    state.known.discard(digest)
    state.unknown.discard(digest)


def clear_key_cache() -> None:
    state = _state(current_app)
    state.known.clear()
    state.unknown.clear()


def touch_last_used(key_id: int) -> bool:
    """Records last_used_at at most once per key per minute per process; True when it wrote.

    Best effort: a failed write is logged, never raised, because it must not fail the request.
    """
    state = _state(current_app)
    clock = time.monotonic()
    with state.touch_lock:
        last = state.touched.get(key_id)
        if last is not None and clock - last < TOUCH_INTERVAL_SECONDS:
            return False
        state.touched[key_id] = clock
        if len(state.touched) > CACHE_MAX_KEYS:
            state.touched = {k: t for k, t in state.touched.items() if clock - t < TOUCH_INTERVAL_SECONDS}
    keys = ApiKey.__table__
    try:
        with unit_of_work() as conn:
            conn.execute(update(keys).where(keys.c.id == key_id).values(last_used_at=utcnow()))
    except SQLAlchemyError as exc:
        log.warning("could not record last use of key %s: %s", key_id, exc)
        return False
    return True
