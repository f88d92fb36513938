"""The console's Integrations page: install commands for every agent tool target, with a key picker.

The picker lists the workspace's active keys by name and prefix only. A key's plaintext is never
available again after it was shown once, so the commands carry a placeholder and the chosen key's
prefix tells the user which key to paste.
"""
from __future__ import annotations

from flask import Flask, current_app, g, request

from ..extensions import db
from ..i18n import current_language
from ..keys.services import list_keys
from ..timeutil import utcnow
from .access import workspace_view
from .rendering import render

RULE = "/console/w/<slug>/integrations"


def init_app(app: Flask) -> None:
    # Named on the integrations blueprint (the nav entry `integrations.index`), outside its /console/skills prefix.
    app.add_url_rule(RULE, endpoint="integrations.index", view_func=index)


@workspace_view()
def index():
    now = utcnow()
    keys = [key for key in list_keys(g.workspace.id) if key.is_active(now)]
    db.session.commit()  # end the read: on SQLite an open transaction holds the write lock
    chosen = next((key for key in keys if key.id == request.args.get("key", type=int)), None)
    if chosen is None and len(keys) == 1:
        chosen = keys[0]
    response = render("integrations/page.html", keys=keys, chosen=chosen,
                      base_url=current_app.config["PUBLIC_BASE_URL"].rstrip("/"),
                      locale="zh" if current_language().tag == "zh-CN" else "en")
    response.headers["Cache-Control"] = "no-store"
    return response
