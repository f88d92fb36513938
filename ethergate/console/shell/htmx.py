"""htmx response vocabulary for console views (after django-htmx), on top of htmx-flask.

`is_htmx()` / `is_fragment_request()` read the request; the functions below build responses:

* `redirect(url)`        - a real page load: HX-Redirect for htmx, 303 otherwise. Use it when the
                           session changes (sign-in, sign-out, language) so <body hx-headers> and the
                           <html lang> are rendered afresh, not swapped into the old page.
* `refresh()`            - reload the current page (HX-Refresh).
* `trigger(response, event, detail=None)` - fire a client event after the swap (HX-Trigger).
* `stop_polling(content)` - 286: htmx stops an `hx-trigger="every 2s"` poll and swaps `content`.
* `vary(response)`       - add `Vary: HX-Request`; every response whose body depends on htmx headers
                           needs it, or a cache may serve a fragment as a page. `render()` does it.
* `private_page`         - an after_request hook: `Cache-Control: no-store` and `vary()`.

Boosted requests (links and forms under <body hx-boost>) are ordinary page loads: a plain
`flask.redirect` is right for them, and they get the whole page.
"""
from __future__ import annotations

import json

from flask import Response, make_response
from flask import redirect as http_redirect
from htmx_flask import make_response as htmx_response
from htmx_flask import request

STOP_POLLING = 286


def is_htmx() -> bool:
    return bool(getattr(request, "htmx", False))


def is_fragment_request() -> bool:
    """An htmx request that wants a piece of the page, not a boosted navigation or a history restore."""
    if not is_htmx():
        return False
    return not (request.htmx.boosted or request.htmx.history_restore_request)


def target() -> str | None:
    """The DOM id htmx will swap into (HX-Target), for fragment requests."""
    return request.htmx.target if is_fragment_request() else None


def vary(response: Response) -> Response:
    response.vary.add("HX-Request")
    return response


def private_page(response: Response) -> Response:
    """An after_request hook for a blueprint of workspace pages: never cached, and varying on htmx."""
    response.headers["Cache-Control"] = "no-store"
    return vary(response)


def redirect(url: str, code: int = 303) -> Response:
    if is_htmx():
        return vary(htmx_response("", 200, redirect=url))
    return vary(http_redirect(url, code))


def refresh() -> Response:
    return vary(htmx_response("", 200, refresh=True))


def trigger(response: Response, event: str, detail=None) -> Response:
    """Adds `event` to HX-Trigger, keeping events already there."""
    events = {}
    existing = response.headers.get("HX-Trigger")
    if existing:
        try:
            events = json.loads(existing)
        except ValueError:
            events = {name.strip(): None for name in existing.split(",")}
    events[event] = detail
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def stop_polling(*args) -> Response:
    response = make_response(*args) if args else make_response("")
    response.status_code = STOP_POLLING
    return vary(response)
