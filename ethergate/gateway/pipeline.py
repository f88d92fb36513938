"""The shared middle of every /v1 API surface: a chat-completions body in, the surface's answer out.

A surface parses its own request into a chat-completions body (chat.py, messages.py, responses_api.py) and
renders the answer in its own shape; everything between is here and identical for all of them: model
resolution, the key's allowlist, model policy, the token limit, the credit hold, routing and failover, the
provider adapters, metering from the provider's usage, capture, the receipt and the log row.
"""
from __future__ import annotations

import math
from typing import Protocol

from flask import Response, current_app, request, stream_with_context

from ..billing import ledger
from ..billing.pricing import affordable_max_tokens, max_cost, output_cap_for
from ..catalog.readiness import model_readiness
from ..catalog.snapshot import get_snapshot
from ..database import check_no_open_transaction
from ..i18n import format_money
from ..observability import phases
from ..timeutil import utcnow
from .admission import admit_tokens
from .errors import GatewayError, model_not_found
from .headers import dropped_params_header
from .json_body import dump_json
from .metering import Billing
from .providers.adapters import build_upstream_body, estimate_prompt_tokens, normalize_completion
from .relay import Relay
from .routing_errors import error_for_failures
from .runtime import runtime
from .upstream import AllRoutesFailed
from .validation import apply_model_policy, validate_chat_request


class Incoming(Protocol):
    """One request as its surface parsed it, and how that surface renders the answer."""
    chat: dict                  # the request as a chat-completions body
    dropped: list[str]          # fields the surface did not translate, for X-Dropped-Params

    def render(self, completion: dict, usage: dict) -> dict: ...

    def events(self, charge, model, prompt_tokens: int): ...


def named_model(charge, body: object):
    """The catalog model a body names, or None; remembered on the charge so a refused request logs it.

    An unknown name is not logged as a model, so clients cannot mint metric labels.
    """
    name = body.get("model") if isinstance(body, dict) else None
    model = get_snapshot().resolve(name.strip()) if isinstance(name, str) else None
    if model is not None:
        charge.model_id = model.id
    return model


def serve(charge, incoming: Incoming) -> Response:
    snapshot = get_snapshot()
    chat = validate_chat_request(incoming.chat)
    key = charge.key
    model = snapshot.resolve(chat.model)
    if model is None:
        raise model_not_found(chat.model)
    charge.model_id, charge.stream = model.id, chat.stream
    if not key.allows_model(model.id, model.aliases + (chat.model,)):
        raise GatewayError(403, "model_not_allowed",
                           f"This API key is not allowed to use {model.id}. "
                           "A workspace owner can change the key's allowed models in the console.",
                           "permission_error", "model")
    apply_model_policy(chat, model)
    ready, reason = model_readiness(model, current_app.config)
    if not ready:
        raise GatewayError(503, "model_not_ready", f"{model.id} is not ready: {reason}.", "api_error", "model")
    if key.tpm_limit:
        admit_tokens(key)

    prompt_bound = estimate_prompt_tokens(chat.messages, chat.tools)
    output_cap, send_cap = output_cap_for(model, chat.max_tokens)
    choices = int(chat.params.get("n") or 1)
    received_at = utcnow()
    hold_amount, _bound_prices = max_cost(model, prompt_bound, output_cap * choices, received_at)
    charge.hold_id = reserve_credits(charge, model, prompt_bound, choices, hold_amount, received_at)
    phases.mark(request.environ, "hold")

    params = dict(chat.params)
    if send_cap:
        params.pop("max_completion_tokens", None)
        params["max_tokens"] = output_cap
    dropped: list[str] = []

    def build_body(route):
        body, dropped_now = build_upstream_body(route.provider, model, route.upstream_model, params, chat.stream)
        dropped[:] = dropped_now
        return body

    upstream, _health = runtime()
    billing = charge.billing = Billing(charge, charge.hold_id, hold_amount, model, received_at, prompt_bound)
    try:
        answer = (upstream.open_stream if chat.stream else upstream.complete)(model, snapshot, build_body)
    except AllRoutesFailed as failed:
        error = error_for_failures(failed, model.id)
        charge.provider = error.provider or charge.provider
        billing.void(status_code=error.status, error_code=error.code, error_message=error.message,
                     provider=error.provider, attempts=[a.to_dict() for a in failed.attempts])
        raise error from None
    except Exception as exc:
        # Nothing reached the client, so nothing is billed; the hold must not wait for the sweep.
        billing.void(status_code=500, error_code="internal_error", error_message=type(exc).__name__)
        raise

    phases.mark(request.environ, "upstream")
    charge.provider = answer.route.provider
    charge.attempts = [a.to_dict() for a in answer.attempts]
    shown = dropped_params_header(list(incoming.dropped) + [name for name in dropped if name not in incoming.dropped])
    headers = {"X-Dropped-Params": shown} if shown else {}
    headers.update(_clamp_header(chat, output_cap))
    if chat.stream:
        return _stream(charge, incoming, answer, upstream, model, chat, billing, prompt_bound, headers)

    body, usage = normalize_completion(answer.route.provider, answer.body, model.id, charge.request_id)
    estimated = usage is None
    if usage is None:
        usage = billing.estimate(completion_chars=_answer_chars(body))
    receipt = billing.price(usage, estimated)
    rendered = incoming.render(body, {**usage.to_openai(), **receipt.usage_fields(billing.currency)})
    # The whole answer is built before it is billed: an answer that cannot be sent costs nothing.
    response = Response(dump_json(rendered), mimetype="application/json", headers=headers)
    response.headers["X-EtherGate-Cost"] = receipt.cost_text
    billing.capture(receipt, status_code=200, provider=answer.route.provider,
                    upstream_model=answer.route.upstream_model, upstream_request_id=answer.upstream_request_id)
    phases.mark(request.environ, "capture")
    return response


def _stream(charge, incoming, answer, upstream, model, chat, billing, prompt_bound, headers) -> Response:
    try:
        render = incoming.events(charge, model, math.ceil(prompt_bound / 3))
        relay = Relay(upstream, answer, model.id, chat.include_usage, billing, request.environ, render)
        events = relay.events()
        if current_app.config["CHECK_TRANSACTIONS"]:
            events = _checked(events)
        response = Response(stream_with_context(events), mimetype="text/event-stream", headers=headers)
        response.headers["X-Accel-Buffering"] = "no"
        # A response closed before its body was ever read (the client left, or its headers failed to go
        # out) never runs the relay: this resolves the hold then.
        response.call_on_close(relay.abandon)
    except Exception as exc:
        answer.close()
        billing.void(status_code=500, error_code="internal_error", error_message=type(exc).__name__,
                     provider=answer.route.provider)
        raise
    return response


def _checked(events):
    """The stream, checked before each chunk goes out: no SQLite transaction open (tests; database.py)."""
    try:
        for chunk in events:
            check_no_open_transaction("a /v1 response was streaming")
            yield chunk
    finally:
        events.close()


def resolve_unbilled_hold(charge, exc) -> None:
    """A request that ended before its hold was resolved (an error after the upstream answered) costs nothing.

    A stream's hold belongs to its relay, which outlives the request (Flask tears down before the body is sent).
    """
    billing = charge.billing if charge is not None else None
    if billing is not None and not billing.resolved and not billing.streaming:
        billing.void(with_row=not charge.logged, status_code=500, error_code="internal_error",
                     error_message=type(exc).__name__ if exc else "the answer could not be sent")


def reserve_credits(charge, model, prompt_bound: int, choices: int, hold_amount: int, at) -> int:
    key = charge.key

    def money(micro: int) -> str:  # /v1 messages are English, whatever language the caller's browser prefers
        return format_money(micro, current_app.config["CURRENCY"], "en")

    try:
        return ledger.reserve(key.workspace_id, hold_amount, request_id=charge.request_id, api_key_id=key.id,
                              key_cap=key.monthly_spend_cap_micro,
                              ttl_seconds=current_app.config["HOLD_TTL_SECONDS"])
    except ledger.InsufficientCredits as short:
        message = (f"Insufficient credits: the workspace balance is {money(short.balance)} "
                   f"({money(max(short.available, 0))} available after in-flight requests) "
                   f"and this request may cost up to {money(hold_amount)}.")
        fits = affordable_max_tokens(model, prompt_bound, short.available, at)
        if fits is not None and choices == 1:
            message += f" Set max_tokens to {fits} or less to fit, or add credits."
        else:
            message += " Add credits in the console to continue."
        raise GatewayError(402, "insufficient_credits", message, "insufficient_quota") from None
    except ledger.SpendCapExceeded as capped:
        cap, spent, held = (money(v) for v in (capped.cap, capped.spent, capped.held))
        left = capped.cap - capped.spent - capped.held
        if left <= 0:
            message = (f"This API key reached its monthly spend cap of {cap} ({spent} spent, {held} in flight). "
                       "Raise the cap in the console or wait for next month.")
        else:
            message = (f"This request may cost up to {money(hold_amount)}, more than the "
                       f"{money(left)} left under this API key's monthly spend cap of {cap} "
                       f"({spent} spent, {held} in flight).")
            fits = affordable_max_tokens(model, prompt_bound, left, at)
            if fits is not None and choices == 1:
                message += f" Set max_tokens to {fits} or less to fit, or raise the cap in the console."
            else:
                message += " Send a shorter request or raise the cap in the console."
        raise GatewayError(402, "key_spend_cap_exceeded", message, "insufficient_quota") from None


def _clamp_header(chat, output_cap: int) -> dict:
    """The header naming the cap actually applied when the client asked for more than the model generates."""
    if chat.max_tokens is None or chat.max_tokens <= output_cap:
        return {}
    field = "max_completion_tokens" if chat.params.get("max_completion_tokens") is not None else "max_tokens"
    return {"X-EtherGate-Clamped": f"{field}={output_cap}"}


def _answer_chars(body: dict) -> int:
    total = 0
    for choice in body.get("choices") or []:
        message = choice.get("message") or {}
        total += len(message.get("content") or "") + len(message.get("reasoning_content") or "")
        for call in message.get("tool_calls") or []:
            total += len((call.get("function") or {}).get("arguments") or "")
    return total
