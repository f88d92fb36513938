"""GET /v1/requests/<id> and GET /v1/credits: every request's receipt and the workspace's credits, by API."""
from __future__ import annotations

import json
from calendar import timegm

from flask import Response, current_app, g

from ..usage.receipts import Receipt, credit_position, request_receipt
from ..money import format_plain
from ..observability.request_ids import SANE_REQUEST_ID
from . import bp
from .errors import GatewayError

# The API surface each request path is; only chat completions exists today.
API_BY_PATH = {"/v1/chat/completions": "chat.completions"}


@bp.get("/requests/<path:request_id>")
def retrieve_request(request_id: str):
    receipt = request_receipt(g.charge.key.workspace_id, request_id) if SANE_REQUEST_ID.match(request_id) else None
    if receipt is None:
        # Another workspace's request is as unknown as one that never existed.
        raise GatewayError(404, "request_not_found",
                           f"No request {request_id!r} was made by this workspace. Request IDs are in the "
                           "X-Request-Id response header and in the request_id of error bodies.")
    return _json(receipt_object(receipt, current_app.config["CURRENCY"]))


@bp.get("/credits")
def retrieve_credits():
    position = credit_position(g.charge.key.workspace_id)
    return _json({"object": "credits", "currency": current_app.config["CURRENCY"],
                  "balance": format_plain(position.balance_micro, 6),
                  "held": format_plain(position.held_micro, 6),
                  "available": format_plain(position.available_micro, 6),
                  "balance_micro": position.balance_micro, "held_micro": position.held_micro,
                  "available_micro": position.available_micro})


def receipt_object(receipt: Receipt, currency: str) -> dict:
    log, entry = receipt.log, receipt.entry
    tokens = receipt.tokens
    return {
        "object": "request",
        "id": log["request_id"],
        "api": API_BY_PATH.get(log["path"], log["path"]),
        "created": timegm(log["created_at"].timetuple()),
        "model": log["model_id"],
        "provider": log["provider"],
        "upstream_model": log["upstream_model"],
        "upstream_request_id": log["upstream_request_id"],
        "stream": bool(log["stream"]),
        "status": _status(log),
        "status_code": log["status_code"],
        "error": {"code": log["error_code"], "message": log["error_message"]} if log["error_code"] else None,
        "latency_ms": log["latency_ms"],
        "ttft_ms": log["ttft_ms"],
        "attempts": log["attempts"] or [],
        "usage": {**tokens, "total_tokens": tokens["prompt_tokens"] + tokens["completion_tokens"]},
        "prices": _prices(entry["pricing"]) if entry is not None and entry["pricing"] else None,
        "cost": {"amount": format_plain(receipt.cost_micro, 6), "amount_micro": receipt.cost_micro,
                 "currency": (entry["pricing"] or {}).get("currency", currency) if entry is not None else currency,
                 "estimated": receipt.estimated, "metered": entry is not None and not receipt.estimated,
                 "ledger_entry_id": entry["id"] if entry is not None else None},
        "hold_status": receipt.hold_status,
    }


def _status(log: dict) -> str:
    if log["cancelled"]:
        return "cancelled"
    return "failed" if log["status_code"] >= 400 or log["error_code"] else "succeeded"


def _prices(pricing: dict) -> dict:
    """The unit prices the entry was billed at, as decimal strings and micro-units per million tokens."""
    applied = {"source": pricing.get("source"), "currency": pricing.get("currency"),
               "per_tokens": pricing.get("per_tokens")}
    for name in ("input", "cached_input", "output"):
        micro = int(pricing.get(f"{name}_micro") or 0)
        applied[name] = format_plain(micro)
        applied[f"{name}_micro"] = micro
    return applied


def _json(body: dict) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
