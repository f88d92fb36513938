"""The public model catalog: `/models` (search and filters) and `/models/<id>` (details and signals).

Filters and the sort are query-string values (`q`, `provider`, `capability`, `sort`), so the list works as a plain GET
form without JavaScript; htmx swaps only #model_list. Prices are list prices per million tokens in
the instance's currency; the benchmark signals come from usage/route_signals.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..billing.pricing import in_window
from ..catalog.readiness import model_readiness, provider_readiness
from ..catalog.snapshot import ModelInfo, PriceRow, get_snapshot
from ..i18n import format_number
from ..timeutil import utcnow
from ..usage.route_signals import MIN_GENERATION_MS, SAMPLE_LIMIT, mean_latency_by_model, signals_for
from . import charts
from .shell.rendering import render
from .snippets import LANGUAGES, snippets

bp = Blueprint("catalog", __name__)
NO_DATA = -1  # an uptime bar for a day without requests: no bar, "—" in the table
# The list's sorts: "price" (input + output now), "context", "latency"; "-" first for descending.
SORTS = {"model": lambda row: row.model.id, "price": lambda row: row.price_now,
         "context": lambda row: row.model.context_window, "latency": lambda row: row.latency_ms}
DEFAULT_SORT = "model"

CAPABILITIES = {
    "streaming": _l("Streaming"),
    "tools": _l("Tool calling"),
    "reasoning": _l("Reasoning"),
    "json_mode": _l("JSON mode"),
    "vision": _l("Image input"),
}


def capability_label(name: str):
    return CAPABILITIES.get(name, name)


@dataclass(frozen=True)
class ModelRow:
    model: ModelInfo
    provider_name: str
    ready: bool
    reason: str | None
    headline: PriceRow | None       # the price that applies now: a time window's, else base or lowest tier
    tiered: bool
    windowed: bool
    window_now: PriceRow | None = None      # the time window in force now, if any
    windows: tuple[PriceRow, ...] = ()
    latency_ms: int | None = None           # mean latency of successful requests, last 7 days

    @property
    def price_now(self) -> int | None:
        """Input plus output price per million tokens as it applies now: what the price sort compares."""
        return self.headline.input_micro + self.headline.output_micro if self.headline else None


def headline_price(model: ModelInfo) -> PriceRow | None:
    base = next((row for row in model.prices if row.kind == "base"), None)
    tiers = tiers_of(model)
    return base or (tiers[0] if tiers else None)


def tiers_of(model: ModelInfo) -> list[PriceRow]:
    return sorted((r for r in model.prices if r.kind == "tier"), key=lambda r: (r.up_to is None, r.up_to or 0))


def windows_of(model: ModelInfo) -> list[PriceRow]:
    return sorted((r for r in model.prices if r.kind == "window"), key=lambda r: (r.window_start or "", r.window_end or ""))


DAY_NAMES = {"mon": _l("Mon"), "tue": _l("Tue"), "wed": _l("Wed"), "thu": _l("Thu"), "fri": _l("Fri"),
             "sat": _l("Sat"), "sun": _l("Sun")}


def window_schedule(row: PriceRow) -> str:
    """Which days a price window runs, in words: "Mon–Fri, except public holidays; make-up working days too"."""
    days = row.window_days.split(",") if row.window_days else list(DAY_NAMES)
    if days == ["mon", "tue", "wed", "thu", "fri"]:
        text = _("Mon–Fri")
    elif len(days) == 7:
        text = _("Every day")
    else:
        text = ", ".join(str(DAY_NAMES[d]) for d in days)
    if row.window_calendar is not None:
        text = _("%(days)s, except public holidays, and on make-up working days (%(calendar)s)",
                 days=text, calendar=row.window_calendar.name)
    return text


def window_now(model: ModelInfo, at) -> PriceRow | None:
    """The time window whose prices apply at `at` (naive UTC); overlaps resolve as billing does, dearer first."""
    matching = [row for row in windows_of(model) if in_window(row, at, model.id)]
    return max(matching, key=lambda r: (r.output_micro, r.input_micro, r.cached_input_micro)) if matching else None


def model_row(model: ModelInfo, snapshot, at=None, latency_ms: int | None = None) -> ModelRow:
    ready, reason = model_readiness(model, current_app.config)
    provider = snapshot.providers.get(model.provider)
    windows = windows_of(model)
    active = window_now(model, at or utcnow()) if windows else None
    return ModelRow(model, provider.name if provider else model.provider, ready, reason,
                    active or headline_price(model), bool(tiers_of(model)), bool(windows), active, tuple(windows),
                    latency_ms)


def sort_rows(rows: list[ModelRow], sort: str) -> list[ModelRow]:
    """Sorted by a SORTS name; rows without the value (no price, no traffic) go last either way."""
    value = SORTS.get(sort.lstrip("-"), SORTS[DEFAULT_SORT])
    known = [row for row in rows if value(row) is not None]
    missing = sorted((row for row in rows if value(row) is None), key=lambda row: row.model.id)
    known.sort(key=lambda row: row.model.id)
    known.sort(key=value, reverse=sort.startswith("-"))
    return known + missing


def matches(row: ModelRow, query: str, provider: str | None, capability: str | None) -> bool:
    model = row.model
    if provider and model.provider != provider:
        return False
    if capability and not model.has(capability):
        return False
    if query:
        haystack = " ".join([model.id, model.name, model.description or "", *model.aliases]).lower()
        return all(word in haystack for word in query.lower().split())
    return True


@bp.after_request
def public_page(response):
    response.vary.add("HX-Request")
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


@bp.get("/models")
def index():
    snapshot = get_snapshot()
    query = (request.args.get("q") or "").strip()[:100]
    provider = request.args.get("provider") or None
    capability = request.args.get("capability") or None
    sort = request.args.get("sort") or DEFAULT_SORT
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    now = utcnow()
    latency = mean_latency_by_model()
    rows = [model_row(m, snapshot, now, latency.get(m.id)) for m in snapshot.models.values()]
    shown = sort_rows([row for row in rows if matches(row, query, provider, capability)], sort)
    capabilities = sorted({c for m in snapshot.models.values() for c in m.capabilities})
    filters = {name: value for name, value in (("q", query), ("provider", provider), ("capability", capability))
               if value}
    return render("catalog/index.html", rows=shown, total=len(rows), query=query, provider=provider, sort=sort,
                  sort_args=lambda column: _sort_args(filters, sort, column),
                  capability=capability, providers=sorted(snapshot.providers.values(), key=lambda p: p.name),
                  capabilities=capabilities, capability_label=capability_label,
                  currency=current_app.config["CURRENCY"], compact_tokens=_compact_tokens(), now=now)


def _sort_args(filters: dict, sort: str, column: str) -> dict:
    """The query string sorting by `column`: the natural order first (cheap, fast, big context), then flipped."""
    natural = f"-{column}" if column == "context" else column
    flipped = natural[1:] if natural.startswith("-") else f"-{natural}"
    wanted = flipped if sort == natural else natural
    return {**filters, **({} if wanted == DEFAULT_SORT else {"sort": wanted})}


def _compact_tokens():
    locale = get_locale()
    return lambda value: charts.compact_number(value, locale)


@bp.get("/models/<path:model_id>")
def model(model_id: str):
    snapshot = get_snapshot()
    found = snapshot.resolve(model_id)
    if found is None:
        abort(404)
    if found.id != model_id:
        # An alias: one page per model, so links and bookmarks converge on the current ID.
        return redirect(url_for("catalog.model", model_id=found.id), 301)
    row = model_row(found, snapshot)
    routes = [f"{r.provider}/{r.upstream_model}" for r in found.routes]
    signals = signals_for(found.id, routes)
    locale = get_locale()
    labels = [charts.day_label(d.day, locale) for d in signals.days]
    points = [d.day.isoformat() for d in signals.days]
    tokens_chart = charts.bar_chart(
        "chart_model_tokens", _("Tokens per day"),
        _("Prompt and completion tokens routed to %(model)s per UTC day over the last 7 days: %(total)s in total.",
          model=found.id, total=format_number(signals.weekly_tokens)),
        labels, points, [charts.Series("tokens", _("Tokens"), [d.tokens for d in signals.days])],
        lambda value: charts.compact_number(value, locale))
    uptime_chart = charts.bar_chart(
        "chart_model_uptime", _("Daily uptime"),
        _("Share of requests per UTC day not answered with a server error (5xx), last 7 days; "
          "days without requests have no bar."),
        labels, points, [charts.Series("uptime", _("Uptime"), [NO_DATA if d.uptime is None else round(d.uptime * 1000)
                                                             for d in signals.days], charts.PALETTE[2])],
        lambda value: charts.percent(None if value < 0 else value / 1000, locale), fixed_top=1000)
    providers = {p.id: provider_readiness(p.id, current_app.config) for p in snapshot.providers.values()}
    base_url = current_app.config["PUBLIC_BASE_URL"] + "/v1"
    return render("catalog/model.html", row=row, model=found, signals=signals, tokens_chart=tokens_chart,
                  uptime_chart=uptime_chart, tiers=tiers_of(found), windows=windows_of(found),
                  window_schedule=window_schedule,
                  provider_state=providers, capability_label=capability_label,
                  percent=lambda share: charts.percent(share, locale), base_url=base_url,
                  snippets=snippets(base_url, found.id), snippet_languages=LANGUAGES,
                  currency=current_app.config["CURRENCY"], sample_limit=SAMPLE_LIMIT,
                  min_generation_ms=MIN_GENERATION_MS)
