"""The console's Integrations page, and the one-line installer scripts it points to.

The page shows install commands for every agent tool target, with a key picker. The picker lists the
workspace's active keys by name and prefix only. A key's plaintext is never available again after it
was shown once, so the commands carry a placeholder and the chosen key's prefix tells the user which
key to paste. The scripts are served as plain text under /console/skills for `curl | bash` and `irm`.
"""
from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, g, request

from ..i18n import current_language
from ..integrations import integration_commands
from ..integrations.install_scripts import render_script
from ..keys.services import list_keys
from ..timeutil import utcnow
from .shell.access import workspace_view
from .shell.rendering import render

bp = Blueprint("integrations", __name__, url_prefix="/console/skills")
bp.add_app_template_global(integration_commands)
RULE = "/console/w/<slug>/integrations"
CACHE_KEY = "ethergate.integrations.scripts"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # Named on the integrations blueprint (the nav entry `integrations.index`), outside its /console/skills prefix.
    app.add_url_rule(RULE, endpoint="integrations.index", view_func=index)


@bp.get("/ethergate-provider/install.sh")
def install_sh():
    return _script_response(_rendered("install.sh"), "install.sh")


@bp.get("/ethergate-provider/install.ps1")
def install_ps1():
    return _script_response(_rendered("install.ps1"), "install.ps1")


def _script_response(text: str, filename: str) -> Response:
    response = Response(text, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _rendered(name: str) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    cache = current_app.extensions.setdefault(CACHE_KEY, {})
    if (name, base) not in cache:
        cache[(name, base)] = render_script(name, base)
    return cache[(name, base)]


@workspace_view()
def index():
    now = utcnow()
    keys = [key for key in list_keys(g.workspace.id) if key.is_active(now)]
    chosen = next((key for key in keys if key.id == request.args.get("key", type=int)), None)
    if chosen is None and len(keys) == 1:
        chosen = keys[0]
    response = render("integrations/page.html", keys=keys, chosen=chosen,
                      base_url=current_app.config["PUBLIC_BASE_URL"].rstrip("/"),
                      locale="zh" if current_language().tag == "zh-CN" else "en")
    response.headers["Cache-Control"] = "no-store"
    return response
