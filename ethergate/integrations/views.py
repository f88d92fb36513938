"""The installer scripts, served with this instance's public URL filled in."""
from __future__ import annotations

from pathlib import Path

from flask import Response, current_app

from . import bp
from .installer.assemble import assembled_source

SCRIPTS = Path(__file__).resolve().parent / "scripts"
ENGINE_END = "__ETHERGATE_ENGINE_END__"
CACHE_KEY = "ethergate.integrations.scripts"


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


def render_script(name: str, base_url: str) -> str:
    """install.sh or install.ps1 with the public URL and the merge engine filled in."""
    engine = assembled_source()
    template = (SCRIPTS / name).read_text(encoding="utf-8")
    lines = engine.splitlines()
    # The engine is embedded verbatim in a heredoc (bash) and a here-string (PowerShell).
    if ENGINE_END in lines or any(line.startswith("'@") for line in lines):
        raise RuntimeError("the engine contains a line that would end its embedding")
    return (template
            .replace("__ETHERGATE_PUBLIC_URL_SH__", "'" + base_url.replace("'", "'\\''") + "'")
            .replace("__ETHERGATE_PUBLIC_URL_PS__", "'" + base_url.replace("'", "''") + "'")
            .replace("__ETHERGATE_PUBLIC_URL__", base_url)
            .replace("__ETHERGATE_ENGINE__", engine.rstrip("\n")))
