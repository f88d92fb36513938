"""The `support` blueprint ("/support/..."): staff pages register their routes on it."""
from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

PREFIX = "/support"

bp = Blueprint("support", __name__, url_prefix=PREFIX)


def is_staff() -> bool:
    return bool(current_user and current_user.is_authenticated and current_user.is_staff)


@bp.after_request
def private_page(response):
    # Support pages show customers' data and freshly minted codes: never cached. Only for staff, so a
    # hidden page's 404 carries exactly the headers of any other 404.
    if is_staff():
        response.headers["Cache-Control"] = "no-store"
        response.vary.add("HX-Request")
    return response
