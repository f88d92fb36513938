"""Email: SMTP through Flask-Mailman when ETHERGATE_SMTP_HOST is set, else the log and the staff outbox.

`send(recipient, kind, locale, **context)` renders templates/mail/<kind>.txt in the recipient's
language (its first line is the subject), delivers it, records it in `mail_outbox` and returns the
row: callers read `.status` and never tell a user a message was sent unless it is SENT.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app, render_template
from flask_babel import force_locale
from flask_mailman import EmailMessage, Mail

from ..database import unit_of_work
from ..extensions import db
from .models import FAILED, NOT_SENT, SENT, OutboxMessage

log = logging.getLogger(__name__)
mailer = Mail()


def init_app(app: Flask) -> None:
    if not app.config.get("SMTP_HOST"):
        return
    security = app.config["SMTP_SECURITY"]
    app.config.update(
        MAIL_BACKEND="smtp", MAIL_SERVER=app.config["SMTP_HOST"], MAIL_PORT=app.config["SMTP_PORT"],
        MAIL_USERNAME=app.config["SMTP_USERNAME"], MAIL_PASSWORD=app.config["SMTP_PASSWORD"],
        MAIL_USE_TLS=security == "starttls", MAIL_USE_SSL=security == "tls",
        MAIL_TIMEOUT=app.config["SMTP_TIMEOUT"], MAIL_DEFAULT_SENDER=app.config["SMTP_FROM"])
    mailer.init_app(app)


def smtp_configured() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


def compose(kind: str, locale: str, **context) -> tuple[str, str]:
    """(subject, body) of templates/mail/<kind>.txt rendered in `locale`."""
    with force_locale(locale):
        text = render_template(f"mail/{kind}.txt", **context)
    subject, _, body = text.strip("\n").partition("\n")
    return " ".join(subject.split()), body.strip("\n") + "\n"  # a header is one line, whatever names it holds


def send(recipient: str, kind: str, locale: str, **context) -> OutboxMessage:
    """Render, deliver (or log) and record one message; the outbox row is its own unit of work."""
    from ..i18n import language, DEFAULT
    tag = (language(locale) or DEFAULT).tag
    subject, body = compose(kind, (language(tag) or DEFAULT).locale, **context)
    row = OutboxMessage(recipient=recipient, kind=kind, locale=tag, subject=subject[:255], status=NOT_SENT)
    if smtp_configured():
        try:
            EmailMessage(subject=subject, body=body, to=[recipient]).send()
        except Exception as exc:  # any SMTP or socket failure: the caller offers another way
            log.error("mail: %s to %s not delivered (%s: %s)", kind, recipient, type(exc).__name__, exc)
            row.status, row.error, row.body = FAILED, f"{type(exc).__name__}: {exc}"[:255], body
        else:
            row.status = SENT
            log.info("mail: %s sent to %s", kind, recipient)
    else:
        row.body = body
        log.info("mail: %s to %s not sent (no ETHERGATE_SMTP_HOST); subject %r\n%s", kind, recipient, subject, body)
    with unit_of_work():
        db.session.add(row)
    return row


def outbox(limit: int = 100, offset: int = 0) -> list[OutboxMessage]:
    return db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id.desc())
                              .limit(limit).offset(offset)).all()
