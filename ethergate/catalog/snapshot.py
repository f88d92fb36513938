"""An immutable in-process copy of the catalog for the hot path, refreshed every few seconds."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..database import unit_of_work
from ..extensions import db
from .models import HolidayCalendar, Model, ModelAlias, Provider

REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class CalendarInfo:
    id: str
    name: str
    covers: frozenset[int]        # years whose holidays and make-up working days are listed in full
    holidays: frozenset[date]
    workdays: frozenset[date]     # make-up working days (调休): worked although a weekend


@dataclass(frozen=True)
class PriceRow:
    kind: str                    # base | tier | window
    up_to: int | None            # tier bound on prompt tokens (None = unbounded)
    window_name: str | None
    window_start: str | None     # "HH:MM"
    window_end: str | None
    window_tz: str | None
    input_micro: int             # per 1,000,000 tokens
    cached_input_micro: int
    output_micro: int
    window_days: str | None = None                 # "mon,tue,wed,thu,fri"; None = every day
    window_calendar: CalendarInfo | None = None    # its holidays are off, its make-up working days on


@dataclass(frozen=True)
class RouteInfo:
    provider: str
    upstream_model: str
    priority: int


@dataclass(frozen=True)
class ProviderInfo:
    id: str
    name: str
    base_url: str
    key_env: str
    base_url_env: str | None
    docs_url: str | None


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    description: str | None
    context_window: int
    max_output_tokens: int
    default_max_tokens: int | None
    capabilities: frozenset[str]
    fixed_temperature: float | None
    max_n: int | None
    unsupported_params: frozenset[str]
    upstream_params: dict | None
    routes: tuple[RouteInfo, ...]
    prices: tuple[PriceRow, ...]
    aliases: tuple[str, ...]
    released: str | None

    @property
    def provider(self) -> str:
        return self.id.split("/", 1)[0]

    def has(self, capability: str) -> bool:
        return capability in self.capabilities


@dataclass(frozen=True)
class CatalogSnapshot:
    models: dict[str, ModelInfo]          # active models by id
    aliases: dict[str, str]               # alias -> model id
    providers: dict[str, ProviderInfo]
    loaded_at: float

    def resolve(self, model_id: str) -> ModelInfo | None:
        model = self.models.get(model_id)
        if model is None and model_id in self.aliases:
            model = self.models.get(self.aliases[model_id])
        return model


def load_snapshot() -> CatalogSnapshot:
    with unit_of_work(writes=False):  # a /v1 request calls an upstream next: the read ends here
        return _read_snapshot()


def _read_snapshot() -> CatalogSnapshot:
    models = db.session.scalars(
        select(Model).where(Model.active)
        .options(selectinload(Model.routes), selectinload(Model.prices), selectinload(Model.aliases))).all()
    providers = {p.id: ProviderInfo(p.id, p.name, p.base_url, p.key_env, p.base_url_env, p.docs_url)
                 for p in db.session.scalars(select(Provider).where(Provider.active))}
    calendars = {c.id: CalendarInfo(c.id, c.name, frozenset(c.covers or ()),
                                    frozenset(d.day for d in c.days if d.kind == "holiday"),
                                    frozenset(d.day for d in c.days if d.kind == "workday"))
                 for c in db.session.scalars(select(HolidayCalendar).options(selectinload(HolidayCalendar.days)))}
    infos = {}
    for m in models:
        routes = tuple(RouteInfo(r.provider_id, r.upstream_model, r.priority)
                       for r in sorted(m.routes, key=lambda r: r.priority) if r.active and r.provider_id in providers)
        prices = tuple(PriceRow(p.kind, p.up_to, p.window_name, p.window_start, p.window_end, p.window_tz,
                                p.input_micro, p.cached_input_micro, p.output_micro, p.window_days,
                                calendars.get(p.window_calendar) if p.window_calendar else None)
                       for p in m.prices)
        infos[m.id] = ModelInfo(
            id=m.id, name=m.name, description=m.description, context_window=m.context_window,
            max_output_tokens=m.max_output_tokens, default_max_tokens=m.default_max_tokens,
            capabilities=frozenset(m.capabilities or ()), fixed_temperature=m.fixed_temperature, max_n=m.max_n,
            unsupported_params=frozenset(m.unsupported_params or ()), upstream_params=m.upstream_params,
            routes=routes, prices=prices, aliases=tuple(sorted(a.alias for a in m.aliases)), released=m.released)
    aliases = {a.alias: a.model_id for a in db.session.scalars(select(ModelAlias)) if a.model_id in infos}
    return CatalogSnapshot(infos, aliases, providers, time.monotonic())


_lock = threading.Lock()
_cache: dict[str, CatalogSnapshot] = {}


def get_snapshot(force: bool = False) -> CatalogSnapshot:
    """The current snapshot for this app's database; needs an app context."""
    from flask import current_app

    key = current_app.config["SQLALCHEMY_DATABASE_URI"]
    snapshot = _cache.get(key)
    if force or snapshot is None or time.monotonic() - snapshot.loaded_at > REFRESH_SECONDS:
        with _lock:
            snapshot = _cache.get(key)
            if force or snapshot is None or time.monotonic() - snapshot.loaded_at > REFRESH_SECONDS:
                snapshot = _cache[key] = load_snapshot()
    return snapshot
