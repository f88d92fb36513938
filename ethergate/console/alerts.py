"""The settings page's alert webhook: its URL and secret, a test event, and the delivery log."""
from __future__ import annotations

from flask import flash, g, url_for
from flask_babel import gettext as _

from ..alerts import webhooks
from .blueprint import bp
from .forms import WebhookForm
from .shell import htmx
from .shell.access import workspace_view
from .shell.rendering import render_component


def webhook_context(form: WebhookForm | None = None, **extra) -> dict:
    hook = webhooks.webhook_of(g.workspace.id)
    if form is None:
        form = WebhookForm(formdata=None, data={"url": hook.url if hook else ""})
    return {"webhook": hook, "webhook_form": form, "deliveries": webhooks.deliveries(g.workspace.id), **extra}


def _answer(status: int = 200, **context):
    if not htmx.is_fragment_request():
        return htmx.redirect(url_for("console.settings") + "#alert-webhook")
    return render_component("components/alert_webhook.html", status=status, **webhook_context(**context))


@bp.post("/w/<slug>/settings/webhook")
@workspace_view(min_role="admin")
def save_webhook():
    form = WebhookForm()
    if form.validate_on_submit():
        try:
            webhooks.set_webhook(g.workspace.id, form.url.data, actor=g.membership.user)
        except webhooks.WebhookError as exc:
            form.url.errors.append(str(exc))
        else:
            flash(_("Webhook saved."), "success")
            return _answer()
    if not htmx.is_fragment_request():
        flash(" ".join(str(error) for error in form.url.errors) or _("The webhook was not saved."), "error")
    return _answer(422, form=form)


@bp.post("/w/<slug>/settings/webhook/rotate")
@workspace_view(min_role="admin")
def rotate_webhook_secret():
    if webhooks.rotate_secret(g.workspace.id, actor=g.membership.user) is not None:
        flash(_("New signing secret made; the old one no longer verifies."), "success")
    return _answer()


@bp.post("/w/<slug>/settings/webhook/remove")
@workspace_view(min_role="admin")
def remove_webhook():
    webhooks.remove_webhook(g.workspace.id, actor=g.membership.user)
    flash(_("Webhook removed."), "success")
    return _answer()


@bp.post("/w/<slug>/settings/webhook/test")
@workspace_view(min_role="admin")
def test_webhook():
    """Queues an `alert.test` event; the alert sweep delivers it within ETHERGATE_SWEEP_INTERVAL_SECONDS."""
    if webhooks.queue_test(g.workspace) is not None:
        flash(_("Test event queued; it is sent within a minute and shows in the log below."), "success")
    return _answer()


@bp.get("/w/<slug>/settings/webhook")
@workspace_view(min_role="admin")
def webhook_log():
    return render_component("components/alert_webhook.html", **webhook_context())
