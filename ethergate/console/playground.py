"""The playground: a chat request from the console, run through the same /v1 pipeline and billed like any other.

The browser never holds an API key. The console calls /v1/chat/completions in-process as the workspace's
Playground key (issued on first use, its plaintext dropped; the key is named in the WSGI environ, which
no network client can set), so validation, limits, holds, routing, billing and the request log are the
gateway's own, and Usage lists these requests under the "Playground" key. With JavaScript the answer
streams (the page reads the SSE stream); without it the form posts and the page shows the whole answer.
"""
from __future__ import annotations

import contextvars
import json

from flask import Response, current_app, g, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.test import EnvironBuilder, run_wsgi_app

from ..billing.ledger import account_state
from ..catalog.readiness import model_readiness
from ..catalog.snapshot import get_snapshot
from ..keys.auth import CONSOLE_KEY_ENVIRON
from ..keys.services import playground_key
from ..usage.reports import find_request
from .blueprint import bp
from .shell import nav
from .shell.access import workspace_view
from .shell.rendering import render, render_component
from .snippets import LANGUAGES, example_model, request_snippets

# A full page load: the page's script must run, and htmx does not run scripts in swapped content.
nav.add_console_item(nav.NavItem("console.playground", _l("Playground"), order=45, boost=False))
PASSED_HEADERS = ("Content-Type", "X-Request-Id", "X-EtherGate-Provider", "Retry-After")
USER_AGENT = "EtherGate Playground"


def ready_models() -> list[str]:
    snapshot = get_snapshot()
    return [model.id for model in sorted(snapshot.models.values(), key=lambda m: m.id)
            if model_readiness(model, current_app.config)[0]]


def number_or_text(raw: str | None, kind):
    """A form value as a number when it is one; otherwise as written, so /v1 answers with its own error."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        return raw


def request_body(form, stream: bool) -> dict:
    messages = []
    if (form.get("system") or "").strip():
        messages.append({"role": "system", "content": form["system"]})
    messages.append({"role": "user", "content": form.get("user") or ""})
    body = {"model": (form.get("model") or "").strip(), "messages": messages}
    for name, kind in (("temperature", float), ("max_tokens", int)):
        value = number_or_text(form.get(name), kind)
        if value is not None:
            body[name] = value
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return body


class IsolatedBody:
    """The inner response body, always advanced inside the inner request's own context.

    Flask keeps the current app and request in context variables; running the inner request and its stream in
    a separate `contextvars.Context` keeps them from being pushed and popped across the console's own.
    """

    def __init__(self, context: contextvars.Context, app_iter):
        self.context, self.app_iter = context, iter(app_iter)
        self._close = getattr(app_iter, "close", None)

    def __iter__(self):
        return self

    def __next__(self):
        return self.context.run(next, self.app_iter)

    def close(self) -> None:
        if self._close is not None:
            self.context.run(self._close)


def call_gateway(body: dict):
    """(body iterator, status code, headers) of /v1/chat/completions run in-process as the Playground key."""
    key = playground_key(g.workspace.id, actor=current_user._get_current_object())
    environ = EnvironBuilder(path="/v1/chat/completions", method="POST", json=body,
                             headers={"User-Agent": USER_AGENT},
                             environ_base={"REMOTE_ADDR": request.remote_addr or ""}).get_environ()
    environ[CONSOLE_KEY_ENVIRON] = key.id
    context = contextvars.Context()
    app_iter, status, headers = context.run(run_wsgi_app, current_app.wsgi_app, environ)
    return IsolatedBody(context, app_iter), int(status.split(" ", 1)[0]), headers


def base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"] + "/v1"


def page(status: int = 200, **context):
    models = ready_models()
    form = context.pop("form", None) or {"model": example_model() if example_model() in models else
                                         (models[0] if models else ""), "temperature": "", "max_tokens": ""}
    return render("console/playground.html", status=status, models=models, form=form,
                  snippets=request_snippets(base_url(), request_body(form, stream=True)),
                  snippet_languages=LANGUAGES, **context)


@bp.get("/w/<slug>/playground")
@workspace_view()
def playground():
    return page()


@bp.post("/w/<slug>/playground")
@workspace_view()
def playground_run():
    """Without JavaScript: one non-streamed call, the answer and its receipt on the page."""
    body = request_body(request.form, stream=False)
    app_iter, status, headers = call_gateway(body)
    try:
        answer = json.loads(b"".join(app_iter) or b"{}")
    finally:
        app_iter.close()
    request_id = headers.get("X-Request-Id")
    if status >= 400:
        error = (answer.get("error") or {}).get("message") or str(status)
        return page(status=422 if status < 500 else 502, form=request.form, error=error, request_id=request_id)
    content = ((answer.get("choices") or [{}])[0].get("message") or {}).get("content") or ""
    return page(form=request.form, answer=content, request_id=request_id, receipt=receipt_context(request_id))


@bp.post("/w/<slug>/playground/stream")
@workspace_view()
def playground_stream():
    """With JavaScript: the gateway's SSE stream passed through as it arrives (or its JSON error)."""
    body = request_body(request.form, stream=True)
    app_iter, status, headers = call_gateway(body)

    def relay():
        try:
            yield from app_iter
        finally:
            app_iter.close()

    passed = {name: headers[name] for name in PASSED_HEADERS if name in headers}
    passed.update({"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    return Response(relay(), status=status, headers=passed)


def receipt_context(request_id: str | None) -> dict | None:
    rows = find_request(g.workspace.id, request_id) if request_id else []
    if not rows:
        return None
    balance, held = account_state(g.workspace.id)
    return {"log": rows[0], "balance_micro": balance, "held_micro": held}


@bp.get("/w/<slug>/playground/receipt/<request_id>")
@workspace_view()
def playground_receipt(request_id: str):
    """The request's receipt once its log row is written (a stream writes it as it ends); until then, poll."""
    return render_component("components/playground_receipt.html", receipt=receipt_context(request_id),
                            request_id=request_id,
                            poll_url=url_for("console.playground_receipt", request_id=request_id))


@bp.post("/w/<slug>/playground/code")
@workspace_view()
def playground_code():
    return render_component("components/playground_code.html",
                            snippets=request_snippets(base_url(), request_body(request.form, stream=True)),
                            snippet_languages=LANGUAGES)
