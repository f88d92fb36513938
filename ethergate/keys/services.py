"""Issuing, revoking, rotating and editing cr_ keys. A key is shown once; only its SHA-256 digest is stored.

Every change writes an audit row (`key.created`, `key.revoked`, `key.rotated`, `key.updated`) in the same
commit. A revocation takes effect on the next request in the process that made it; other gateway
processes cache keys for KEY_CACHE_SECONDS (default 2 s), so they refuse the key within that time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from ..accounts.models import User
from ..accounts.services import record_audit
from ..catalog.models import Model, ModelAlias
from ..database import unit_of_work
from ..extensions import db
from ..timeutil import utcnow
from .auth import forget_key
from .models import ApiKey
from .tokens import digest_key, display_prefix, generate_key

MAX_GRACE_SECONDS = 7 * 24 * 3600
MAX_ALLOWED_MODELS = 200

Actor = User | str | None


class KeyPolicyError(ValueError):
    """A key request the product refuses; the message is fit to show to the user."""


class KeyNotFound(KeyPolicyError):
    pass


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@dataclass
class IssuedKey:
    key: ApiKey
    plaintext: str


def check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise KeyPolicyError("key name must be 1 to 120 characters")
    return name


def check_limit(label: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise KeyPolicyError(f"{label} limit must be a positive whole number")
    return value


def check_spend_cap(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise KeyPolicyError("monthly spend cap must be positive")
    return value


def check_allowed_models(model_ids: list[str] | tuple[str, ...] | None) -> list[str] | None:
    """Model IDs or aliases from the catalog, de-duplicated; empty or None means every model."""
    if not model_ids:
        return None
    if isinstance(model_ids, str):
        raise KeyPolicyError("allowed models must be a list of model IDs")
    cleaned: list[str] = []
    for raw in model_ids:
        if not isinstance(raw, str) or not raw.strip():
            raise KeyPolicyError("allowed models must be non-empty model IDs")
        value = raw.strip()
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_ALLOWED_MODELS:
        raise KeyPolicyError(f"a key can name at most {MAX_ALLOWED_MODELS} allowed models")
    known = set(db.session.scalars(select(Model.id).where(Model.id.in_(cleaned))))
    known |= set(db.session.scalars(select(ModelAlias.alias).where(ModelAlias.alias.in_(cleaned))))
    unknown = [value for value in cleaned if value not in known]
    if unknown:
        raise KeyPolicyError(f"unknown model: {', '.join(unknown)}")
    return cleaned


def naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        raise KeyPolicyError("expiry must be a date and time")
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo is not None else moment


def check_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    expires_at = naive_utc(expires_at)
    if expires_at is not None and expires_at <= now:
        raise KeyPolicyError("expiry must be in the future; revoke the key to stop it now")
    return expires_at


def issue_key(workspace_id: int, name: str = "default", created_by_id: int | None = None,
              rpm_limit: int | None = None, tpm_limit: int | None = None,
              monthly_spend_cap_micro: int | None = None, allowed_models: list[str] | None = None,
              expires_at=None, rotated_from_id: int | None = None) -> IssuedKey:
    """Adds a key to the session without committing or auditing; `create_key` does both.

    The expiry is not required to be in the future here, so tests and imports can make expired keys.
    """
    plaintext = generate_key()
    key = ApiKey(workspace_id=workspace_id, name=check_name(name), prefix=display_prefix(plaintext),
                 digest=digest_key(plaintext), created_by_id=created_by_id,
                 rpm_limit=check_limit("rpm", rpm_limit), tpm_limit=check_limit("tpm", tpm_limit),
                 monthly_spend_cap_micro=check_spend_cap(monthly_spend_cap_micro),
                 allowed_models=check_allowed_models(allowed_models),
                 expires_at=naive_utc(expires_at), rotated_from_id=rotated_from_id)
    db.session.add(key)
    db.session.flush()
    return IssuedKey(key=key, plaintext=plaintext)


def create_key(workspace_id: int, name: str = "default", *, actor: Actor = None, rpm_limit: int | None = None,
               tpm_limit: int | None = None, monthly_spend_cap_micro: int | None = None,
               allowed_models: list[str] | None = None, expires_at: datetime | None = None) -> IssuedKey:
    """Issues a key, audits `key.created` and commits. The plaintext is only in the returned value."""
    with unit_of_work():
        expires_at = check_expiry(expires_at, utcnow())
        issued = issue_key(workspace_id, name=name, created_by_id=actor.id if isinstance(actor, User) else None,
                           rpm_limit=rpm_limit, tpm_limit=tpm_limit,
                           monthly_spend_cap_micro=monthly_spend_cap_micro, allowed_models=allowed_models,
                           expires_at=expires_at)
        _audit("key.created", issued.key, actor, {"name": issued.key.name, **policy_of(issued.key)})
    return issued


def list_keys(workspace_id: int) -> list[ApiKey]:
    """Every key of a workspace, newest first, revoked ones included (the console shows their status)."""
    return list(db.session.scalars(
        select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.created_at.desc(),
                                                                            ApiKey.id.desc())))


def get_key(key_id: int, workspace_id: int | None = None) -> ApiKey:
    """The key, or KeyNotFound; pass workspace_id so one workspace can never touch another's keys."""
    key = db.session.get(ApiKey, key_id)
    if key is None or (workspace_id is not None and key.workspace_id != workspace_id):
        raise KeyNotFound(f"unknown key {key_id}")
    return key


def revoke_key(key_id: int, actor: Actor = None, *, workspace_id: int | None = None) -> ApiKey:
    """Stops a key now. Revoking an already revoked key changes nothing and writes no audit row."""
    now = utcnow()
    with unit_of_work():
        key = get_key(key_id, workspace_id)
        if key.revoked_at is not None and key.revoked_at <= now:
            return key
        key.revoked_at = now
        _audit("key.revoked", key, actor, {"name": key.name})
    _forget_cached(key)
    return key


def rotate_key(key_id: int, grace_seconds: int | float = 0, actor: Actor = None, *,
               workspace_id: int | None = None) -> IssuedKey:
    """A new key with the old one's name and policies; the old key keeps working for `grace_seconds`."""
    if isinstance(grace_seconds, bool) or not isinstance(grace_seconds, (int, float)) \
            or not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise KeyPolicyError(f"grace period must be between 0 and {MAX_GRACE_SECONDS} seconds")
    now = utcnow()
    with unit_of_work():
        old = get_key(key_id, workspace_id)
        if old.revoked_at is not None and old.revoked_at <= now:
            raise KeyPolicyError("a revoked key cannot be rotated")
        if old.expires_at is not None and old.expires_at <= now:
            raise KeyPolicyError("an expired key cannot be rotated; create a new key")
        plaintext = generate_key()
        new = ApiKey(workspace_id=old.workspace_id, name=old.name, prefix=display_prefix(plaintext),
                     digest=digest_key(plaintext),
                     created_by_id=actor.id if isinstance(actor, User) else old.created_by_id,
                     rpm_limit=old.rpm_limit, tpm_limit=old.tpm_limit,
                     monthly_spend_cap_micro=old.monthly_spend_cap_micro,
                     allowed_models=list(old.allowed_models) if old.allowed_models else None,
                     expires_at=old.expires_at, rotated_from_id=old.id)
        db.session.add(new)
        grace_end = now + timedelta(seconds=grace_seconds)
        # A key already in a shorter grace period keeps its earlier end.
        old.revoked_at = min(grace_end, old.revoked_at) if old.revoked_at is not None else grace_end
        db.session.flush()
        _audit("key.rotated", old, actor, {"new_key_id": new.id, "new_prefix": new.prefix,
                                           "grace_seconds": grace_seconds,
                                           "old_key_stops_at": old.revoked_at.isoformat()})
    _forget_cached(old)
    return IssuedKey(key=new, plaintext=plaintext)


def update_key(key_id: int, *, name=UNSET, rpm_limit=UNSET, tpm_limit=UNSET, monthly_spend_cap_micro=UNSET,
               allowed_models=UNSET, expires_at=UNSET, actor: Actor = None,
               workspace_id: int | None = None) -> ApiKey:
    """Changes only the fields given; None clears a limit (or allows every model). Audits the differences."""
    now = utcnow()
    with unit_of_work():
        key = get_key(key_id, workspace_id)
        if key.revoked_at is not None and key.revoked_at <= now:
            raise KeyPolicyError("a revoked key cannot be changed")
        wanted = {}
        if name is not UNSET:
            wanted["name"] = check_name(name)
        if rpm_limit is not UNSET:
            wanted["rpm_limit"] = check_limit("rpm", rpm_limit)
        if tpm_limit is not UNSET:
            wanted["tpm_limit"] = check_limit("tpm", tpm_limit)
        if monthly_spend_cap_micro is not UNSET:
            wanted["monthly_spend_cap_micro"] = check_spend_cap(monthly_spend_cap_micro)
        if allowed_models is not UNSET:
            wanted["allowed_models"] = check_allowed_models(allowed_models)
        if expires_at is not UNSET:
            wanted["expires_at"] = check_expiry(expires_at, now)
        changes = {}
        for field, value in wanted.items():
            before = getattr(key, field)
            if before != value:
                changes[field] = [_plain(before), _plain(value)]
                setattr(key, field, value)
        if not changes:
            return key
        _audit("key.updated", key, actor, {"changes": changes})
    _forget_cached(key)
    return key


def policy_of(key: ApiKey) -> dict:
    return {"rpm_limit": key.rpm_limit, "tpm_limit": key.tpm_limit,
            "monthly_spend_cap_micro": key.monthly_spend_cap_micro, "allowed_models": key.allowed_models,
            "expires_at": _plain(key.expires_at)}


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _audit(action: str, key: ApiKey, actor: Actor, details: dict) -> None:
    details = {"key_id": key.id, **details}
    if isinstance(actor, User):
        record_audit(action, actor=actor, workspace_id=key.workspace_id, target=key.prefix, details=details)
    else:
        record_audit(action, actor_label=actor or "system", workspace_id=key.workspace_id, target=key.prefix,
                     details=details)


def _forget_cached(key: ApiKey) -> None:
    forget_key(key.digest)


PLAYGROUND = "playground"


def playground_key(workspace_id: int, actor: Actor = None) -> ApiKey:
    """The workspace's Playground key, issued on first use; its plaintext is dropped, the console calls by id.

    Its unit of work also ends the caller's reads: the console calls the gateway next.
    """
    with unit_of_work():
        key = db.session.scalar(select(ApiKey).where(
            ApiKey.workspace_id == workspace_id, ApiKey.purpose == PLAYGROUND,
            ApiKey.revoked_at.is_(None)).order_by(ApiKey.id).limit(1))
        if key is None:
            issued = issue_key(workspace_id, name="Playground",
                               created_by_id=actor.id if isinstance(actor, User) else None)
            key = issued.key
            key.purpose = PLAYGROUND
            _audit("key.created", key, actor, {"name": key.name, "purpose": PLAYGROUND})
    return key
