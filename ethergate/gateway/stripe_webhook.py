"""POST /billing/stripe/webhook: Stripe's signed payment events, each credited exactly once.

Stripe retries any delivery that does not get a 2xx, so the answers are chosen for that: 200 for
every event we verified (duplicates and events with nothing to credit included, so Stripe stops),
400 for a payload whose signature does not verify (retrying cannot fix it), 404 when payments are not
configured, and 503 if processing itself failed (the database, say), so Stripe delivers it again.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from ..billing import topups
from ..security import csrf

log = logging.getLogger("ethergate.billing")
bp = Blueprint("billing_webhooks", __name__)


def _error(status: int, code: str, message: str, kind: str = "invalid_request_error"):
    return jsonify(error={"message": message, "type": kind, "code": code}), status


@bp.post("/billing/stripe/webhook")
@csrf.exempt  # authenticated by the Stripe-Signature header, not by a browser session
def stripe_webhook():
    provider = topups.payment_provider(current_app)
    if provider is None:
        return _error(404, "payments_not_configured", "Card payments are not configured on this server.")
    try:
        result = provider.handle_webhook(request.get_data(), request.headers.get("Stripe-Signature", ""))
    except topups.WebhookRejected as exc:
        log.warning("stripe webhook rejected: %s", exc)
        return _error(400, "invalid_webhook", str(exc))
    except Exception:  # noqa: BLE001 (a 5xx makes Stripe retry; 503 says "try again", not "bug")
        log.exception("stripe webhook could not be processed")
        return _error(503, "webhook_processing_failed", "The event could not be processed now; it will be retried.",
                      "api_error")
    if result.credited:
        log.info("stripe event %s credited workspace %s", result.event_id, result.workspace_id)
    return jsonify(received=True, event_id=result.event_id, duplicate=result.duplicate,
                   credited=result.credited, detail=result.detail), 200
