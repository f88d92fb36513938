"""The operator view of the gateway's state, and the incident notes staff write for the public status page."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..console.charts import percent
from ..console.shell.rendering import render
from ..gateway.status import gather_status
from ..incidents.services import IncidentError, open_incident, recent_incidents, resolve_incident
from ..timeutil import utcnow
from .blueprint import bp
from .forms import IncidentForm, ResolveForm


def status_page(status: int = 200, form: IncidentForm | None = None):
    report = gather_status(operator=True)
    return render("support/status.html", status=status, report=report, form=form or IncidentForm(formdata=None),
                  resolve_form=ResolveForm(formdata=None), incidents=recent_incidents(), checked_at=utcnow(),
                  percent=lambda share: percent(share, get_locale()))


@bp.get("/status")
def operator_status():
    return status_page()


@bp.post("/incidents")
def create_incident():
    form = IncidentForm()
    if form.validate_on_submit():
        try:
            open_incident(form.title.data, form.body.data, form.provider.data, current_user._get_current_object())
        except IncidentError as exc:
            form.form_errors.append(str(exc))
        else:
            flash(_("Incident opened; it is on the public status page now."), "success")
            return redirect(url_for("support.operator_status"), code=303)
    return status_page(status=422, form=form)


@bp.post("/incidents/<int:incident_id>/resolve")
def resolve(incident_id: int):
    form = ResolveForm()
    if form.validate_on_submit():
        try:
            resolve_incident(incident_id, form.resolution.data, current_user._get_current_object())
        except IncidentError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Incident resolved."), "success")
    else:
        flash(_("The resolution note is at most 4000 characters."), "error")
    return redirect(url_for("support.operator_status"), code=303)
