"""A workspace's alert webhook: its URL and secret, queued deliveries, and their delivery with backoff.

Delivery happens only in the alert sweep (never on a request); each attempt is signed afresh and
claimed with a conditional UPDATE so two instances never post the same attempt.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import socket
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from flask import current_app
from flask_babel import lazy_gettext as _
from sqlalchemy import delete, update

from ..accounts.services import record_audit
from ..database import unit_of_work
from ..extensions import db
from ..timeutil import utcnow
from .models import DELIVERED, FAILED, PENDING, AlertWebhook, WebhookDelivery
from .signing import HEADER, sign

log = logging.getLogger("ethergate.alerts")
# Waits after the 1st, 2nd, ... failed attempt; after the last, the delivery is marked failed.
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1), timedelta(hours=6))
MAX_ATTEMPTS = len(BACKOFF) + 1
CLAIM = timedelta(minutes=2)
KEEP = timedelta(days=30)  # finished deliveries stay in the console's log this long


class WebhookError(ValueError):
    pass


def webhook_of(workspace_id: int) -> AlertWebhook | None:
    return db.session.get(AlertWebhook, workspace_id)


def check_url(url: str) -> str:
    """A clean http(s) URL whose host is public (private and loopback only with ETHERGATE_WEBHOOK_ALLOW_PRIVATE)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(_("Enter a full http:// or https:// URL."))
    if len(url) > 2000 or parts.username or parts.password:
        raise WebhookError(_("Enter a URL without credentials, at most 2000 characters."))
    refuse_private(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return url


def refuse_private(host: str, port: int) -> None:
    if current_app.config.get("WEBHOOK_ALLOW_PRIVATE"):
        return
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        raise WebhookError(_("The host %(host)s does not resolve.", host=host)) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise WebhookError(_("The host %(host)s is a private or local address.", host=host))


def set_webhook(workspace_id: int, url: str, actor=None) -> AlertWebhook:
    """Save the URL; the secret is made on first save and kept on later edits."""
    url = check_url(url)
    with unit_of_work():
        hook = webhook_of(workspace_id)
        if hook is None:
            hook = AlertWebhook(workspace_id=workspace_id, url=url, secret=new_secret())
            db.session.add(hook)
        hook.url = url
        record_audit("alerts.webhook_set", actor=actor, workspace_id=workspace_id, target=urlsplit(url).hostname,
                     details={"url": url})
    return hook


@unit_of_work()
def rotate_secret(workspace_id: int, actor=None) -> AlertWebhook | None:
    hook = webhook_of(workspace_id)
    if hook is not None:
        hook.secret = new_secret()
        record_audit("alerts.webhook_secret_rotated", actor=actor, workspace_id=workspace_id,
                     target=urlsplit(hook.url).hostname)
    return hook


@unit_of_work()
def remove_webhook(workspace_id: int, actor=None) -> None:
    hook = webhook_of(workspace_id)
    if hook is not None:
        record_audit("alerts.webhook_removed", actor=actor, workspace_id=workspace_id,
                     target=urlsplit(hook.url).hostname)
        db.session.delete(hook)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def enqueue(workspace_id: int, event: str, data: dict, now: datetime | None = None) -> WebhookDelivery | None:
    """Queue one event for the workspace's webhook (None without one), in the caller's unit of work."""
    hook = webhook_of(workspace_id)
    if hook is None:
        return None
    now = now or utcnow()
    event_id = "evt_" + secrets.token_hex(12)
    body = json.dumps({"id": event_id, "type": event, "created": int(now.timestamp()), "data": data},
                      separators=(",", ":"), sort_keys=True)
    delivery = WebhookDelivery(workspace_id=workspace_id, event_id=event_id, event=event, url=hook.url, body=body,
                               status=PENDING, attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(delivery)
    return delivery


@unit_of_work()
def queue_test(workspace) -> WebhookDelivery | None:
    """An `alert.test` event for the workspace's webhook (None without one); the sweep delivers it."""
    return enqueue(workspace.id, "alert.test", {"workspace": workspace.slug, "workspace_name": workspace.name})


def deliveries(workspace_id: int, limit: int = 50) -> list[WebhookDelivery]:
    return db.session.scalars(db.select(WebhookDelivery).where(WebhookDelivery.workspace_id == workspace_id)
                              .order_by(WebhookDelivery.id.desc()).limit(limit)).all()


def deliver_due(now: datetime | None = None, limit: int = 50) -> int:
    """Attempt every pending delivery whose time has come; returns how many were delivered."""
    now = now or utcnow()
    due = db.session.execute(
        db.select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at).limit(limit)).all()
    delivered = 0
    for delivery_id, due_at in due:
        with unit_of_work():
            claimed = db.session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == PENDING,
                                              WebhookDelivery.next_attempt_at == due_at)
                .values(next_attempt_at=now + CLAIM)).rowcount
        if claimed:
            delivered += attempt(db.session.get(WebhookDelivery, delivery_id), now)
    return delivered


def attempt(delivery: WebhookDelivery, now: datetime) -> bool:
    """POST once, record the outcome and schedule the next try; True when the receiver answered 2xx."""
    with unit_of_work(writes=False):  # no transaction stays open while the receiver answers
        hook = webhook_of(delivery.workspace_id)
        body, url, event, event_id = delivery.body.encode(), delivery.url, delivery.event, delivery.event_id
        secret = hook.secret if hook is not None else None
    code, error = None, None
    if hook is None:
        error = "webhook removed"
    else:
        try:
            parts = urlsplit(url)
            refuse_private(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
            response = requests.post(
                url, data=body, timeout=current_app.config.get("WEBHOOK_TIMEOUT", 10), allow_redirects=False,
                headers={"Content-Type": "application/json", "User-Agent": "EtherGate-Webhook/1",
                         HEADER: sign(secret, body), "EtherGate-Event": event, "EtherGate-Delivery": event_id})
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except WebhookError:  # the message is for the console form; the log needs no request's language
            error = "refused: private or local address"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
    with unit_of_work():
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = code, error[:255] if error else None
        if error is None:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DELIVERED, now, None
        elif hook is None or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = FAILED, None
            log.warning("webhook %s to workspace %s failed for good: %s", delivery.event_id, delivery.workspace_id,
                        error)
        else:
            delivery.next_attempt_at = now + BACKOFF[delivery.attempts - 1]
    return error is None


def prune(now: datetime | None = None) -> int:
    """Forget finished deliveries older than KEEP; pending ones stay until they finish."""
    cutoff = (now or utcnow()) - KEEP
    with unit_of_work():
        return db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.status != PENDING,
                                                                WebhookDelivery.created_at < cutoff)).rowcount
