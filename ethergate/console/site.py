"""Public pages: the landing page and the language switch."""
from __future__ import annotations

from flask import Blueprint, current_app, request, session, url_for
from flask_login import current_user

from ..accounts.services import set_locale
from ..i18n import SESSION_KEY, language
from .auth import safe_next
from .shell import htmx
from .shell.rendering import render
from .snippets import example_model, snippets

bp = Blueprint("site", __name__)


@bp.get("/")
def landing():
    base_url = current_app.config["PUBLIC_BASE_URL"] + "/v1"
    model = example_model()
    return render("landing.html", base_url=base_url, model=model,
                  snippet=snippets(base_url, model)["python"])


@bp.post("/language")
def set_language():
    """Remember the choice in the session and on the account; reload the page the switch was on."""
    chosen = language(request.form.get("lang"))
    if chosen is not None:
        session[SESSION_KEY] = chosen.tag
        if current_user.is_authenticated and current_user.locale != chosen.tag:
            set_locale(current_user._get_current_object(), chosen.tag)
    return htmx.redirect(safe_next(request.form.get("next")) or url_for("site.landing"))
