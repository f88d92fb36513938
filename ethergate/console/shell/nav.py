"""The navigation registries: what the console sidebar and the public header link to.

An entry names an endpoint; until a view with that endpoint is registered the link is hidden, so a
page shows up in the nav the moment its blueprint is registered. The endpoints below are the names
the pages are expected to use; a page that picks another name edits its entry here, or adds one::

    from ethergate.console.shell.nav import NavItem, add_console_item
    add_console_item(NavItem("usage.index", _l("Usage"), order=40))

Console entries are workspace pages (URL `/console/w/<slug>/...`; `slug` is filled in from
`g.workspace`); `min_role` hides an entry from roles below it (the view must still check, with
`workspace_view(min_role=...)`).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from .access import role_at_least


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object                 # a lazy_gettext string
    order: int = 100
    min_role: str = "member"
    section: str | None = None    # highlights this entry on pages whose endpoint starts with it
    boost: bool = True            # False for links to non-HTML responses (htmx must not swap JSON in)


CONSOLE_NAV: list[NavItem] = [
    NavItem("console.dashboard", _l("Dashboard"), order=10),
    NavItem("keys.index", _l("Keys"), order=20, section="keys."),
    NavItem("billing.credits", _l("Credits"), order=30, section="billing."),
    NavItem("usage.index", _l("Usage"), order=40, section="usage."),
    NavItem("console.members", _l("Members"), order=50),
    NavItem("integrations.index", _l("Integrations"), order=60, section="integrations."),
    NavItem("console.settings", _l("Settings"), order=70),
]

PUBLIC_NAV: list[NavItem] = [
    NavItem("catalog.index", _l("Models"), order=10, section="catalog."),
    NavItem("docs.index", _l("Docs"), order=20, section="docs."),
    NavItem("status.status", _l("Status"), order=30, boost=False),
]


def add_console_item(item: NavItem) -> None:
    """Add or replace (by endpoint) a console sidebar entry."""
    _add(CONSOLE_NAV, item)


def add_public_item(item: NavItem) -> None:
    _add(PUBLIC_NAV, item)


def _add(items: list[NavItem], item: NavItem) -> None:
    items[:] = [existing for existing in items if existing.endpoint != item.endpoint] + [item]
    items.sort(key=lambda entry: entry.order)


def endpoint_exists(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def visible(items: list[NavItem], role: str | None = None) -> list[NavItem]:
    """Entries whose page exists and, when `role` is given, whose `min_role` it meets."""
    return [item for item in items if endpoint_exists(item.endpoint)
            and (role is None or role_at_least(role, item.min_role))]


def is_current(item: NavItem, endpoint: str | None) -> bool:
    if not endpoint:
        return False
    return endpoint == item.endpoint or bool(item.section and endpoint.startswith(item.section))
