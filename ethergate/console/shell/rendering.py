"""One URL serves the page or a piece of it.

Page templates name their swappable regions as blocks whose name is the DOM id of the element the
block renders, tag included::

    {% block members %}<section id="members">...</section>{% endblock %}

A control that refreshes that region targets it and swaps the whole element::

    <form hx-post="{{ url_for('console.invite') }}" hx-target="#members" hx-swap="outerHTML">

and the view just calls `render("console/members.html", ...)`: for a fragment request whose HX-Target
names a block of that template only the block is rendered (plus pending flash messages, swapped
out-of-band into #flash); for anything else, the page. A fragment block must be defined in the
template passed (not only in a layout it extends), and since a block rendered alone skips the
template's top level, it does its own `{% from ... import %}` inside the block.
"""
from __future__ import annotations

from flask import current_app, get_flashed_messages, render_template, session
from markupsafe import Markup

from . import htmx


def render_block(template_name: str, block: str, **context) -> str:
    """Render one block of a template with the usual context processors applied."""
    app = current_app._get_current_object()
    template = app.jinja_env.get_or_select_template(template_name)
    if block not in template.blocks:
        raise LookupError(f"{template_name} has no block {block!r}")
    app.update_template_context(context)
    return "".join(template.blocks[block](template.new_context(context)))


def render(template_name: str, status: int = 200, **context):
    """The page, or the block named by HX-Target for htmx fragment requests; always `Vary: HX-Request`."""
    block = htmx.target()
    template = current_app.jinja_env.get_or_select_template(template_name)
    if block and block in template.blocks:
        body = render_block(template_name, block, **context) + oob_flash()
    else:
        body = render_template(template_name, **context)
    response = current_app.make_response((body, status))
    return htmx.vary(response)


def render_component(template_name: str, status: int = 200, **context):
    """A self-targeting component (templates/components/...), with pending flashes swapped out-of-band."""
    body = render_template(template_name, **context) + oob_flash()
    return htmx.vary(current_app.make_response((body, status)))


def oob_flash() -> str:
    """Pending flash messages as an out-of-band swap of #flash, or "" when there are none."""
    if not session.get("_flashes"):
        return ""
    return str(Markup(render_template("components/flash.html", messages=get_flashed_messages(with_categories=True),
                                      oob=True)))
