"""GET /v1/models and /v1/models/<id>: the catalog in OpenAI's list shape, with EtherGate's metadata."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

from flask import Response, current_app, g

from ..catalog.readiness import model_readiness
from ..catalog.snapshot import CatalogSnapshot, ModelInfo, PriceRow, get_snapshot
from ..money import format_plain
from . import bp
from .errors import model_not_found

CACHE_KEY = "ethergate.models_api"


@bp.get("/models")
def list_models():
    catalog = _catalog()
    allowed = _allowed_ids(catalog.snapshot)
    if allowed is None:
        return _json_response(catalog.list_json)
    data = [obj for model_id, obj in catalog.objects.items() if model_id in allowed]
    return _json_response(json.dumps({"object": "list", "data": data}, ensure_ascii=False))


@bp.get("/models/<path:model_id>")
def retrieve_model(model_id: str):
    catalog = _catalog()
    model = catalog.snapshot.resolve(model_id)
    allowed = _allowed_ids(catalog.snapshot)
    # A key limited to some models cannot see the others, as OpenAI answers for models you cannot use.
    if model is None or (allowed is not None and model.id not in allowed):
        raise model_not_found(model_id)
    return _json_response(json.dumps(catalog.objects[model.id], ensure_ascii=False))


class _Catalog:
    """Model objects built once per snapshot and provider-key configuration."""

    def __init__(self, key: tuple, snapshot: CatalogSnapshot, objects: dict[str, dict]):
        self.key = key
        self.snapshot = snapshot
        self.objects = objects
        self.list_json = json.dumps({"object": "list", "data": list(objects.values())}, ensure_ascii=False)


def _catalog() -> _Catalog:
    snapshot = get_snapshot()
    config = current_app.config
    keys = config.get("PROVIDER_KEYS") or {}
    key = (snapshot.loaded_at, id(snapshot), config["CURRENCY"],
           tuple(sorted((provider, bool(value)) for provider, value in keys.items())))
    cached = current_app.extensions.get(CACHE_KEY)
    if cached is None or cached.key != key:
        objects = {model_id: model_object(snapshot.models[model_id], config) for model_id in sorted(snapshot.models)}
        cached = current_app.extensions[CACHE_KEY] = _Catalog(key, snapshot, objects)
    return cached


def _allowed_ids(snapshot: CatalogSnapshot) -> frozenset[str] | None:
    api_key = g.charge.key
    allowed = getattr(api_key, "allowed_models", None)
    if allowed is None:
        return None
    # A key may have been limited by an alias; it grants the model the alias names.
    return frozenset(model.id for model in map(snapshot.resolve, allowed) if model is not None)


def _json_response(text: str) -> Response:
    return Response(text, mimetype="application/json")


def model_object(model: ModelInfo, config) -> dict:
    ready, reason = model_readiness(model, config)
    return {
        "id": model.id,
        "object": "model",
        "created": _created(model.released),
        "owned_by": model.provider,
        "name": model.name,
        "description": model.description,
        "context_length": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        "capabilities": sorted(model.capabilities),
        "pricing": _pricing(model.prices, config["CURRENCY"]),
        "ready": ready,
        "not_ready_reason": reason,
        "aliases": list(model.aliases),
    }


def _created(released: str | None) -> int:
    if not released:
        return 0
    try:
        day = date.fromisoformat(released)
    except ValueError:
        return 0
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


def _prices(row: PriceRow) -> dict:
    return {"input": format_plain(row.input_micro), "cached_input": format_plain(row.cached_input_micro),
            "output": format_plain(row.output_micro)}


def _pricing(rows: tuple[PriceRow, ...], currency: str) -> dict:
    tiers = sorted((r for r in rows if r.kind == "tier"), key=lambda r: (r.up_to is None, r.up_to or 0))
    windows = sorted((r for r in rows if r.kind == "window"), key=lambda r: (r.window_start or "", r.window_end or ""))
    base = next((r for r in rows if r.kind == "base"), None) or (tiers[0] if tiers else None)
    pricing = {"currency": currency, "unit": "per_million_tokens"}
    if base is not None:
        pricing.update(_prices(base))
    if tiers:
        pricing["tiers"] = [{"up_to": r.up_to, **_prices(r)} for r in tiers]
    if windows:
        pricing["windows"] = [{"name": r.window_name, "start": r.window_start, "end": r.window_end,
                               "tz": r.window_tz,
                               "days": r.window_days.split(",") if r.window_days else None,
                               "holidays": r.window_calendar.id if r.window_calendar else None,
                               **_prices(r)} for r in windows]
    return pricing
