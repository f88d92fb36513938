"""Where every /v1 request starts and ends: its RequestCharge, admission, response headers, errors, the log row."""
from __future__ import annotations

import json
import re

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from ..catalog.snapshot import get_snapshot
from ..observability import phases
from ..observability.request_ids import request_id_from
from . import bp
from .admission import admit_key, rate_limit_headers
from .charge import RequestCharge
from .errors import GatewayError
from .headers import make_headers_safe
from .pipeline import resolve_unbilled_hold
from .surfaces import surface_for


def current_charge() -> RequestCharge:
    """This request's charge; framework errors (unknown path, 413) can arrive before the blueprint's hook."""
    charge = g.get("charge")
    if charge is None:
        if g.get("request_id") is None:
            g.request_id = request_id_from(request.headers.get("X-Request-Id"))
        charge = g.charge = RequestCharge.begin(g.request_id, surface_for(request.path))
    return charge


@bp.before_request
def start_request():
    charge = current_charge()
    admit_key(charge, charge.surface.credential(request.headers))
    phases.mark(request.environ, "auth")


@bp.after_request
def add_headers(response):
    charge = current_charge()
    response.headers["X-Request-Id"] = charge.request_id
    if charge.provider:
        response.headers["X-EtherGate-Provider"] = charge.provider
    if charge.rate is not None:
        for name, value in rate_limit_headers(charge.rate).items():
            response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    make_headers_safe(response.headers)
    if not response.is_streamed:
        charge.write_log(status_code=response.status_code)
    return response


# The body's model field, looked for only in a refused request's first bytes: cheap, and bounded.
MODEL_FIELD = re.compile(rb'"model"\s*:\s*("(?:[^"\\]|\\.){1,256}")')
MODEL_PEEK_BYTES = 65536


def name_model_before_parsing(charge) -> None:
    """A request refused before its body was read (the per-minute limit) still logs the catalog model it named."""
    if charge.model_id is not None or request.method != "POST":
        return
    found = MODEL_FIELD.search(request.stream.read(MODEL_PEEK_BYTES))
    try:
        name = json.loads(found.group(1)) if found else None
    except ValueError:
        return
    model = get_snapshot().resolve(name.strip()) if isinstance(name, str) else None
    if model is not None:
        charge.model_id = model.id


@bp.errorhandler(GatewayError)
def gateway_error(error: GatewayError):
    charge = current_charge()
    if error.code == "rate_limit_exceeded":
        name_model_before_parsing(charge)
    charge.refused(error)
    return charge.surface.error_response(error, charge.request_id)


def api_error_response(error: HTTPException):
    """Framework errors under /v1 (404, 405, 413, ...) in the surface's envelope."""
    codes = {404: ("not_found", "invalid_request_error", f"Unknown endpoint {request.method} {request.path}."),
             405: ("method_not_allowed", "invalid_request_error",
                   f"Method {request.method} is not allowed on {request.path}."),
             413: ("request_too_large", "invalid_request_error",
                   f"The request body is larger than {current_app.config['MAX_BODY_BYTES']} bytes.")}
    code, kind, message = codes.get(error.code, ("invalid_request_error", "invalid_request_error",
                                                 error.description or error.name))
    gateway = GatewayError(error.code or 400, code, message, kind)
    charge = current_charge()
    charge.refused(gateway)
    response = charge.surface.error_response(gateway, charge.request_id)
    response.headers["X-Request-Id"] = charge.request_id
    response.headers["Cache-Control"] = "no-store"
    # An unknown path or method never reaches the blueprint's hooks, yet it is a /v1 request to log.
    charge.write_log(status_code=gateway.status)
    return response


def internal_error_response():
    """An unexpected exception under /v1, in the surface's envelope."""
    charge = current_charge()
    error = GatewayError(500, "internal_error",
                         "EtherGate hit an unexpected error. Support can trace it by the request ID.", "api_error")
    response = charge.surface.error_response(error, charge.request_id)
    response.headers["X-Request-Id"] = charge.request_id
    return response


@bp.teardown_request
def end_request(exc):
    resolve_unbilled_hold(g.get("charge"), exc)
