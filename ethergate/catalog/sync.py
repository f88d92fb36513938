"""Load the catalog file into the database: upsert, and deactivate what disappeared (never delete)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from ..database import unit_of_work
from ..extensions import db
from ..money import AmountError, parse_amount
from ..timeutil import utcnow
from .models import CalendarDay, HolidayCalendar, Model, ModelAlias, Price, Provider, Route

SHIPPED_CATALOG = Path(__file__).with_name("catalog.toml")
CAPABILITIES = {"streaming", "tools", "reasoning", "json_mode", "vision"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CatalogError(ValueError):
    pass


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)

    def summary(self) -> str:
        return "\n".join([f"catalog: {len(self.created)} created, {len(self.updated)} updated, "
                          f"{len(self.deactivated)} deactivated", *(f"warning: {w}" for w in self.warnings)])


def read_catalog(path: str | Path | None = None) -> dict:
    path = Path(path) if path else SHIPPED_CATALOG
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: {exc}") from None
    _validate(data, str(path))
    return data


def _price(where: str, spec: dict, name: str) -> int:
    try:
        return parse_amount(str(spec[name]), allow_zero=True)
    except KeyError:
        raise CatalogError(f"{where}: missing price {name!r}") from None
    except AmountError as exc:
        raise CatalogError(f"{where}: price {name!r}: {exc}") from None


def _hhmm(where: str, value) -> str:
    text = str(value)
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60 and len(minutes) == 2):
        raise CatalogError(f"{where}: expected HH:MM, got {value!r}")
    return f"{int(hours):02d}:{minutes}"


def _validate(data: dict, source: str) -> None:
    providers = data.get("providers") or {}
    if not providers:
        raise CatalogError(f"{source}: no [providers]")
    for pid, spec in providers.items():
        for name in ("name", "base_url", "key_env"):
            if not spec.get(name):
                raise CatalogError(f"{source}: provider {pid}: missing {name}")
    calendars = data.get("calendars") or {}
    for cid, spec in calendars.items():
        _calendar_days(f"{source}: calendar {cid}", spec)
    ids: set[str] = set()
    aliases: set[str] = set()
    for index, model in enumerate(data.get("models") or []):
        mid = model.get("id", "")
        where = f"{source}: model {mid or index}"
        if "/" not in mid or mid != mid.lower():
            raise CatalogError(f"{where}: id must be provider/model in lower case")
        if mid in ids:
            raise CatalogError(f"{where}: duplicate id")
        ids.add(mid)
        for name in ("name", "context_window", "max_output_tokens"):
            if name not in model:
                raise CatalogError(f"{where}: missing {name}")
        unknown = set(model.get("capabilities", [])) - CAPABILITIES
        if unknown:
            raise CatalogError(f"{where}: unknown capabilities {sorted(unknown)}")
        routes = model.get("routes") or []
        if not routes:
            raise CatalogError(f"{where}: needs at least one route")
        for route in routes:
            if route.get("provider") not in providers:
                raise CatalogError(f"{where}: route to unknown provider {route.get('provider')!r}")
            if not route.get("upstream_model"):
                raise CatalogError(f"{where}: route without upstream_model")
        pricing = model.get("pricing")
        if not pricing:
            raise CatalogError(f"{where}: missing [models.pricing]")
        if not pricing.get("tiers"):
            for name in ("input", "cached_input", "output"):
                _price(where, pricing, name)
        for tier in pricing.get("tiers", []):
            for name in ("input", "cached_input", "output"):
                _price(where + " tier", tier, name)
        for window in pricing.get("windows", []):
            _hhmm(where + " window start", window.get("start"))
            _hhmm(where + " window end", window.get("end"))
            _window_days(where, window.get("days"))
            _zone(where, window.get("tz", "UTC"))
            if window.get("calendar") is not None and window["calendar"] not in calendars:
                raise CatalogError(f"{where}: window calendar {window['calendar']!r} is not defined in [calendars]")
        for alias in model.get("aliases", []):
            if alias in aliases:
                raise CatalogError(f"{where}: duplicate alias {alias}")
            aliases.add(alias)
    clash = ids & aliases
    if clash:
        raise CatalogError(f"{source}: aliases equal to model ids: {sorted(clash)}")


def _price_rows(pricing: dict, where: str) -> list[dict]:
    rows: list[dict] = []
    tiers = pricing.get("tiers") or []
    if tiers:
        for tier in tiers:
            rows.append(dict(kind="tier", up_to=tier.get("up_to"), input_micro=_price(where, tier, "input"),
                             cached_input_micro=_price(where, tier, "cached_input"),
                             output_micro=_price(where, tier, "output")))
    else:
        rows.append(dict(kind="base", up_to=None, input_micro=_price(where, pricing, "input"),
                         cached_input_micro=_price(where, pricing, "cached_input"),
                         output_micro=_price(where, pricing, "output")))
    for window in pricing.get("windows") or []:
        rows.append(dict(kind="window", up_to=None, window_name=window.get("name", "window"),
                         window_start=_hhmm(where, window["start"]), window_end=_hhmm(where, window["end"]),
                         window_tz=window.get("tz", "UTC"), window_days=_window_days(where, window.get("days")),
                         window_calendar=window.get("calendar"), input_micro=_price(where, window, "input"),
                         cached_input_micro=_price(where, window, "cached_input"),
                         output_micro=_price(where, window, "output")))
    for row in rows:
        for name in ("window_name", "window_start", "window_end", "window_tz", "window_days", "window_calendar"):
            row.setdefault(name, None)
    return rows


def _assign(obj, values: dict) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


@unit_of_work()
def sync_catalog(path: str | Path | None = None, currency: str | None = None) -> SyncReport:
    """Make the database match the catalog file. Running it twice changes nothing the second time."""
    data = read_catalog(path)
    file_currency = str(data.get("currency", "CNY")).upper()
    if currency and file_currency != currency:
        raise CatalogError(f"catalog prices are in {file_currency} but ETHERGATE_CURRENCY is {currency}")
    report = SyncReport()

    existing_providers = {p.id: p for p in db.session.scalars(select(Provider))}
    for pid, spec in data["providers"].items():
        values = dict(name=spec["name"], base_url=spec["base_url"].rstrip("/"), key_env=spec["key_env"],
                      base_url_env=spec.get("base_url_env"), docs_url=spec.get("docs_url"), active=True)
        provider = existing_providers.pop(pid, None)
        if provider is None:
            db.session.add(Provider(id=pid, **values))
            report.created.append(f"provider {pid}")
        elif _assign(provider, values):
            report.updated.append(f"provider {pid}")
    for provider in existing_providers.values():
        if provider.active:
            provider.active = False
            report.deactivated.append(f"provider {provider.id}")
    db.session.flush()

    _sync_calendars(data.get("calendars") or {}, report)

    existing_models = {m.id: m for m in db.session.scalars(select(Model))}
    wanted_aliases: dict[str, str] = {}
    for spec in data.get("models", []):
        mid = spec["id"]
        values = dict(
            name=spec["name"], description=spec.get("description"), context_window=int(spec["context_window"]),
            max_output_tokens=int(spec["max_output_tokens"]), default_max_tokens=spec.get("default_max_tokens"),
            capabilities=list(spec.get("capabilities", [])), fixed_temperature=spec.get("fixed_temperature"),
            max_n=spec.get("max_n"), unsupported_params=list(spec.get("unsupported_params", [])),
            upstream_params=dict(spec["upstream_params"]) if spec.get("upstream_params") else None,
            released=str(spec["released"]) if spec.get("released") else None, active=True)
        model = existing_models.pop(mid, None)
        created = model is None
        if created:
            model = Model(id=mid, **values)
            db.session.add(model)
            db.session.flush()
            changed = True
        else:
            changed = _assign(model, values)
        changed |= _sync_routes(model, spec["routes"])
        changed |= _sync_prices(model, _price_rows(spec["pricing"], f"model {mid}"))
        for alias in spec.get("aliases", []):
            wanted_aliases[alias] = mid
        if created:
            report.created.append(mid)
        elif changed:
            model.updated_at = utcnow()
            report.updated.append(mid)
    for model in existing_models.values():
        if model.active:
            model.active = False
            report.deactivated.append(model.id)

    current_aliases = {a.alias: a for a in db.session.scalars(select(ModelAlias))}
    for alias, mid in wanted_aliases.items():
        row = current_aliases.pop(alias, None)
        if row is None:
            db.session.add(ModelAlias(alias=alias, model_id=mid))
            report.created.append(f"alias {alias}")
        elif row.model_id != mid:
            row.model_id = mid
            report.updated.append(f"alias {alias}")
    for row in current_aliases.values():
        db.session.delete(row)
        report.deactivated.append(f"alias {row.alias}")
    return report


def _window_days(where: str, days) -> str | None:
    """The window's weekdays as stored ("mon,tue,..."), or None for every day."""
    if days is None:
        return None
    if not isinstance(days, list) or not days or any(d not in WEEKDAYS for d in days) or len(set(days)) != len(days):
        raise CatalogError(f"{where}: window days must be a list of distinct {', '.join(WEEKDAYS)}; got {days!r}")
    return ",".join(d for d in WEEKDAYS if d in days)


def _zone(where: str, name) -> None:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise CatalogError(f"{where}: unknown time zone {name!r}") from None


def _dates(where: str, values) -> list[date]:
    """ "2026-02-15" or an inclusive range "2026-02-15..2026-02-23"."""
    found = []
    for value in values or []:
        first, _, last = str(value).partition("..")
        try:
            start, end = date.fromisoformat(first), date.fromisoformat(last or first)
        except ValueError:
            raise CatalogError(f"{where}: expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD, got {value!r}") from None
        if end < start or (end - start).days > 31:
            raise CatalogError(f"{where}: {value!r} is not a range of at most a month")
        found += [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return found


def _calendar_days(where: str, spec: dict) -> dict[date, str]:
    if not isinstance(spec, dict) or not spec.get("name"):
        raise CatalogError(f"{where}: missing name")
    covers = spec.get("covers") or []
    if not isinstance(covers, list) or not all(isinstance(y, int) for y in covers):
        raise CatalogError(f"{where}: covers must list the years whose schedule is complete")
    days: dict[date, str] = {}
    for kind, key in (("holiday", "holidays"), ("workday", "workdays")):
        for day in _dates(f"{where} {key}", spec.get(key)):
            if day.year not in covers:
                raise CatalogError(f"{where}: {day} is in a year the calendar does not cover ({covers})")
            if days.get(day, kind) != kind:
                raise CatalogError(f"{where}: {day} is listed as both a holiday and a make-up working day")
            days[day] = kind
    return days


def _sync_calendars(specs: dict, report: SyncReport) -> None:
    existing = {c.id: c for c in db.session.scalars(select(HolidayCalendar))}
    for cid, spec in specs.items():
        days = _calendar_days(f"calendar {cid}", spec)
        calendar = existing.pop(cid, None)
        values = dict(name=spec["name"], covers=sorted(spec.get("covers") or []))
        if calendar is None:
            calendar = HolidayCalendar(id=cid, **values)
            db.session.add(calendar)
            report.created.append(f"calendar {cid}")
            changed = True
        else:
            changed = _assign(calendar, values)
        if {(d.day, d.kind) for d in calendar.days} != set(days.items()):
            calendar.days.clear()
            db.session.flush()
            calendar.days.extend(CalendarDay(day=day, kind=kind) for day, kind in sorted(days.items()))
            changed = True
        if changed and f"calendar {cid}" not in report.created:
            report.updated.append(f"calendar {cid}")
        report.warnings += _coverage_warnings(cid, values["covers"], utcnow().date())
    for calendar in existing.values():
        db.session.delete(calendar)
        report.deactivated.append(f"calendar {calendar.id}")
    db.session.flush()


def _coverage_warnings(cid: str, covers: list[int], today: date) -> list[str]:
    """Say when prices will follow the plain weekdays because a year's schedule is missing."""
    missing = [year for year in (today.year, today.year + 1) if year not in covers and
               (year == today.year or today.month == 12)]
    return [f"calendar {cid} does not list {year}'s holidays and make-up working days: add them to the catalog "
            f"(windows fall back to their weekdays alone for that year)" for year in missing]


def _sync_routes(model: Model, specs: list[dict]) -> bool:
    changed = False
    by_key = {(r.provider_id, r.upstream_model): r for r in model.routes}
    for spec in specs:
        key = (spec["provider"], spec["upstream_model"])
        route = by_key.pop(key, None)
        values = dict(priority=int(spec.get("priority", 1)), active=True)
        if route is None:
            model.routes.append(Route(provider_id=key[0], upstream_model=key[1], **values))
            changed = True
        else:
            changed |= _assign(route, values)
    for route in by_key.values():
        if route.active:
            route.active = False
            changed = True
    return changed


def _sync_prices(model: Model, rows: list[dict]) -> bool:
    columns = ("kind", "up_to", "window_name", "window_start", "window_end", "window_tz", "window_days",
               "window_calendar", "input_micro", "cached_input_micro", "output_micro")

    def key(row) -> tuple:
        return tuple((row[c] if isinstance(row, dict) else getattr(row, c)) for c in columns)

    if sorted(map(key, model.prices), key=repr) == sorted(map(key, rows), key=repr):
        return False
    model.prices.clear()
    db.session.flush()
    for row in rows:
        model.prices.append(Price(**row))
    return True
