"""The support console at /support: staff trace requests, look up workspaces, users and keys, and fix balances.

Only staff (`User.is_staff`) see it. Everyone else, signed in or not, gets the same plain 404 page an
unknown URL gets, for every path under /support and every method: the check runs before routing
errors (405, the trailing-slash redirect) and before CSRF (400) could answer differently and give the
console away. Support pages use their own `workspace_slug` URL value, never `slug`, so the console's
url_defaults never fill them from a workspace page and they stay out of the member-page sweep.

Staff changes go through the billing services (`topups.adjust`, `topups.create_code`), which write the
ledger entry and its audit row in one transaction.
"""
from __future__ import annotations

from flask import Flask, abort, request

from .blueprint import PREFIX, bp, is_staff


def init_app(app: Flask) -> None:
    """Call before security.init_app: the staff check must run before the CSRF check."""
    if "csrf" in app.extensions:
        raise RuntimeError("support.init_app must run before security.init_app (CSRF would answer first)")
    from . import outbox, status_views, views  # noqa: F401  (routes)

    app.before_request(hide_from_non_staff)
    app.register_blueprint(bp)


def hide_from_non_staff() -> None:
    if (request.path == PREFIX or request.path.startswith(PREFIX + "/")) and not is_staff():
        abort(404)
