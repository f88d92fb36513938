"""The developer console: every HTML page, composed over the domain packages (which hold no views).

Blueprints: `site` ("/", "/language"), `auth` ("/signup", "/login", "/logout"), `console`
("/console/...", workspace pages under "/console/w/<slug>/"), and one per page area, named as before the
pages lived here: `keys`, `billing` (Credits), `usage`, `audit`, `catalog` ("/models") and `integrations`.

Building a console page on top of this (keys, credits, usage, ...):

* URL `/console/w/<slug>/<area>/...`, view wrapped in `shell.access.workspace_view(min_role=...)`; look up
  every ID inside `g.workspace` and answer 404 when it is not there;
* template extends "console/layout.html" and fills `{% block content %}`; swappable regions are
  blocks named after their DOM id, rendered with `shell.rendering.render()` (page or fragment);
  small self-targeting widgets live in templates/components/ and come back via `render_component()`;
* responses that change the session or need a real reload use `htmx.redirect()` / `htmx.refresh()`;
* forms are Flask-WTF forms rendered with templates/_macros/forms.html; CSRF is automatic;
* strings are marked for translation (see ethergate.i18n); money uses the `money` template filter
  (`money_exact` in receipts and the ledger), times the `when` filter (see shell.formats);
* the nav entry is in `shell.nav.CONSOLE_NAV` and appears once the endpoint exists;
* tests use the fixtures of tests/console/conftest.py: `client` (its `submit()` and `htmx_post()`
  send the CSRF token read from a page), `auth` (signup/login/logout), `owner`, `join`.
"""
from __future__ import annotations

from flask import Flask, g, request
from flask_login import current_user
from htmx_flask import Htmx

from ..extensions import login_manager
from .blueprint import bp
from .shell import formats, htmx, nav
from .shell.access import can, inject_workspace_slug

htmx_extension = Htmx()


def init_app(app: Flask) -> None:
    from . import account, alerts, auth, dashboard, members, playground, recovery, site, workspaces  # noqa: F401  (routes)
    from . import audit, catalog, credits, integrations, keys, usage

    htmx_extension.init_app(app)
    formats.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.register_blueprint(site.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(bp)
    for page in (audit, keys, credits, usage, catalog):
        app.register_blueprint(page.bp)
    integrations.init_app(app)
    app.url_defaults(inject_workspace_slug)
    app.context_processor(template_context)
    app.after_request(show_errors_as_pages)


def show_errors_as_pages(response):
    """An error answer to a fragment request replaces the page, not the small element that asked.

    Fragment views answer 200, or 422 for a form to fix; anything else >= 400 is an error page.
    """
    if response.status_code >= 400 and response.status_code != 422 and htmx.is_fragment_request() \
            and response.mimetype == "text/html" and "HX-Retarget" not in response.headers:
        response.headers["HX-Retarget"] = "body"
        response.headers["HX-Reswap"] = "innerHTML"
        response.headers["HX-Push-Url"] = "false"
    return response


def template_context() -> dict:
    """Names every template may use; cheap, since error pages render it too."""
    from .forms import ROLE_CHOICES, role_label

    membership = g.get("membership")
    return {
        "console_nav": nav.visible(nav.CONSOLE_NAV, membership.role) if membership is not None else [],
        "public_nav": nav.visible(nav.PUBLIC_NAV),
        "nav_is_current": lambda item: nav.is_current(item, request.endpoint),
        "endpoint_exists": nav.endpoint_exists,
        "can": can,
        "role_label": role_label,
        "role_choices": ROLE_CHOICES,
        "user_workspaces": _user_workspaces,
    }


def _user_workspaces():
    from .services import workspaces_of

    if not current_user.is_authenticated:
        return []
    return workspaces_of(current_user)
