"""The outbox: every email the app wrote, so staff can pass on a link when email is not set up or failed."""
from __future__ import annotations

from flask import request

from .. import mail
from ..console.shell.rendering import render
from .blueprint import bp

PAGE_SIZE = 50


@bp.get("/outbox")
def outbox():
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows = mail.outbox(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render("support/outbox.html", outbox_messages=rows[:PAGE_SIZE], page=page, more=len(rows) > PAGE_SIZE,
                  smtp=mail.smtp_configured())
