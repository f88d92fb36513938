"""The models the key may use, fetched from EtherGate, and the limits and prices each tool is told."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from .messages import Abort, say
from .targets import EXIT_KEY, EXIT_SERVER, EXIT_USAGE, PREFERRED_MODELS


def fetch_models(base_url: str, api_key: str, locale: str) -> list[dict]:
    url = base_url.rstrip("/") + "/v1/models"
    print(say(locale, "checking", url=url))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}",
                                                   "Accept": "application/json",
                                                   "User-Agent": "ethergate-provider-installer"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise Abort(EXIT_KEY, "rejected") from None
        detail = _error_detail(error)
        raise Abort(EXIT_SERVER, "server_error", status=error.code, url=url, detail=detail) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise Abort(EXIT_SERVER, "unreachable", url=url, detail=getattr(error, "reason", error)) from None
    models = [m for m in body.get("data") or [] if isinstance(m, dict) and m.get("id") and m.get("ready", True)]
    if not models:
        raise Abort(EXIT_KEY, "no_models")
    return models


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(error.read().decode("utf-8"))
        return str(payload["error"]["message"])
    except Exception:
        return error.reason or "error"


def choose_model(models: list[dict], requested: str | None, current: str | None, locale: str) -> str:
    ids = [m["id"] for m in models]
    if requested:
        for model in models:
            if requested == model["id"] or requested in (model.get("aliases") or []):
                return model["id"]
        raise Abort(EXIT_USAGE, "unknown_model", model=requested, available=", ".join(ids))
    if current in ids:
        return current
    return next((m for m in PREFERRED_MODELS if m in ids), ids[0])


def price_of(pricing: dict, field: str) -> float | int:
    try:
        value = float(pricing.get(field) or 0)
    except (TypeError, ValueError):
        return 0
    return int(value) if value.is_integer() else value


def model_limits(model: dict) -> tuple[int, int]:
    return int(model.get("context_length") or 0) or 128000, int(model.get("max_output_tokens") or 0) or 8192


def context_tokens(models: list[dict], model_id: str) -> int:
    model = next((m for m in models if m["id"] == model_id), {})
    return int(model.get("context_length") or 0) or 128000
