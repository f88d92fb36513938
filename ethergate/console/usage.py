"""The Usage pages: totals, charts, model mix, errors, the request log, one request, and the CSV export.

URL `/console/w/<slug>/usage/...`, for every member. Filters live in the query string (`from`, `to`, `status`, `sort`,
`key`, `model`, `q`, `page`) so a filtered view can be bookmarked and shared; htmx swaps
#usage_results on a filter change, #request_log on search or paging, and polls #usage_totals.
Every query is scoped by g.workspace.id; a request ID of another workspace is a 404.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Blueprint, Response, abort, current_app, g, request, stream_with_context, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..catalog.snapshot import get_snapshot
from ..i18n import format_money, format_number
from ..money import format_plain
from ..observability.request_ids import SANE_REQUEST_ID
from ..timeutil import utcnow
from ..usage import reports
from ..usage.reports import UsageFilter
from . import charts
from .shell import htmx
from .shell.access import workspace_view
from .shell.rendering import render

bp = Blueprint("usage", __name__, url_prefix="/console/w/<slug>/usage")
PRESETS = ((2, _l("48 hours")), (7, _l("7 days")), (30, _l("30 days")), (90, _l("90 days")))
CSV_COLUMNS = ("created_at", "request_id", "model", "provider", "upstream_model", "upstream_request_id",
               "key_name", "key_prefix", "stream", "status_code", "error_code", "error_message", "prompt_tokens",
               "cached_tokens", "completion_tokens", "reasoning_tokens", "cost", "currency", "estimated",
               "cancelled", "latency_ms", "ttft_ms", "api_surface")
# Spreadsheets run cells starting with these as formulas; request IDs and error text come from clients.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
WIDE_CHART = 960  # the requests chart spans the page on wide screens; a wider canvas keeps its text small


bp.after_request(htmx.private_page)


@dataclass
class Filters:
    """The parsed query string: the report filter plus what the form shows back."""
    usage: UsageFilter
    page: int
    notes: list[str]
    sort: str = reports.DEFAULT_SORT

    @property
    def hourly(self) -> bool:
        return len(self.usage.days) <= reports.HOURLY_MAX_DAYS

    def sort_args(self, column: str) -> dict:
        """The query string that sorts the log by `column`: descending first, then flipping."""
        wanted = column if self.sort == f"-{column}" else f"-{column}"
        return self.args(sort=None if wanted == reports.DEFAULT_SORT else wanted, page=None)

    def sorted_by(self, column: str) -> str | None:
        """aria-sort for a column header."""
        if self.sort.lstrip("-") != column:
            return None
        return "descending" if self.sort.startswith("-") else "ascending"

    def args(self, **changes) -> dict:
        """Query-string values for url_for, with `changes` applied (None drops a value)."""
        values = {"from": self.usage.first_day.isoformat(), "to": self.usage.last_day.isoformat(),
                  "key": self.usage.api_key_id, "model": self.usage.model_id, "q": self.usage.request_id,
                  "status": self.usage.status, "sort": None if self.sort == reports.DEFAULT_SORT else self.sort}
        values.update(changes)
        return {name: value for name, value in values.items() if value not in (None, "")}


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip()) if text else None
    except ValueError:
        return None


def parse_filters(args, workspace_id: int, today: date) -> Filters:
    notes = []
    first_default, last_default = reports.default_range(today)
    first, last = _day(args.get("from")), _day(args.get("to"))
    if (args.get("from") and first is None) or (args.get("to") and last is None):
        notes.append(_("A date was not in YYYY-MM-DD form; the default range is shown instead."))
    if first is None and last is None:
        first, last = first_default, last_default
    elif first is None:
        first = last - timedelta(days=reports.DEFAULT_DAYS - 1)
    elif last is None:
        last = max(first, today)
    if first > last:
        first, last = last, first
    if (last - first).days + 1 > reports.MAX_DAYS:
        first = last - timedelta(days=reports.MAX_DAYS - 1)
        notes.append(_("Ranges are limited to %(days)s days; the start was moved.", days=reports.MAX_DAYS))
    key_id = args.get("key", type=int)
    model = (args.get("model") or "").strip()[:128] or None
    search = (args.get("q") or "").strip()[:128] or None
    page = max(args.get("page", default=1, type=int) or 1, 1)
    status = args.get("status") if args.get("status") in reports.STATUSES else None
    sort = args.get("sort") or reports.DEFAULT_SORT
    if sort.lstrip("-") not in reports.SORTS:
        sort = reports.DEFAULT_SORT
    return Filters(UsageFilter(workspace_id, first, last, key_id, model, search, status), page, notes, sort)


def _hourly_charts(hours: list[reports.Hour], locale) -> list[charts.Chart]:
    totals = [h.totals for h in hours]
    span = {"start": charts.hour_label(hours[0].start, locale, with_day=True),
            "end": charts.hour_label(hours[-1].start, locale, with_day=True)}
    sums = _sums(totals)
    return _usage_charts(
        totals, [charts.hour_label(h.start, locale) for h in hours],
        [h.start.strftime("%Y-%m-%dT%H:00") for h in hours], locale,
        titles=(_("Requests per hour"), _("Tokens per hour"), _("Spend per hour")),
        captions=(
            _("Requests per UTC hour from %(start)s to %(end)s: %(requests)s in total, %(errors)s failed.",
              requests=sums["requests"], errors=sums["errors"], **span),
            _("Tokens per UTC hour from %(start)s to %(end)s: %(prompt)s prompt and %(completion)s completion "
              "tokens in total.", prompt=sums["prompt"], completion=sums["completion"], **span),
            _("Credits debited per UTC hour from %(start)s to %(end)s: %(total)s in total.",
              total=sums["spend"], **span)))


def _charts(days: list[reports.Day], locale) -> list[charts.Chart]:
    totals = [d.totals for d in days]
    labels = [charts.day_label(d.day, locale) for d in days]
    span = {"start": labels[0], "end": labels[-1]}
    busiest = max(days, key=lambda d: d.totals.requests)
    sums = _sums(totals)
    return _usage_charts(
        totals, labels, [d.day.isoformat() for d in days], locale,
        titles=(_("Requests per day"), _("Tokens per day"), _("Spend per day")),
        captions=(
            _("Requests per UTC day from %(start)s to %(end)s: %(requests)s in total, %(errors)s failed; "
              "busiest day %(day)s with %(most)s.", requests=sums["requests"], errors=sums["errors"],
              day=charts.day_label(busiest.day, locale), most=format_number(busiest.totals.requests), **span),
            _("Tokens per UTC day from %(start)s to %(end)s: %(prompt)s prompt and %(completion)s completion "
              "tokens in total.", prompt=sums["prompt"], completion=sums["completion"], **span),
            _("Credits debited per UTC day from %(start)s to %(end)s: %(total)s in total.",
              total=sums["spend"], **span)))


def _sums(totals: list) -> dict[str, str]:
    """The formatted totals the chart captions quote."""
    return {"requests": format_number(sum(t.requests for t in totals)),
            "errors": format_number(sum(t.errors for t in totals)),
            "prompt": format_number(sum(t.prompt_tokens for t in totals)),
            "completion": format_number(sum(t.completion_tokens for t in totals)),
            "spend": format_money(sum(t.spend_micro for t in totals))}


def _usage_charts(totals: list, labels: list[str], points: list[str], locale, *, titles: tuple,
                  captions: tuple) -> list[charts.Chart]:
    """Requests, tokens and spend over hourly or daily buckets; the titles and captions name the bucket."""
    return [
        charts.bar_chart(
            "chart_requests", titles[0], captions[0], labels, points,
            [charts.Series("succeeded", _("Succeeded"), [t.requests - t.errors for t in totals], charts.PALETTE[0]),
             charts.Series("failed", _("Failed"), [t.errors for t in totals], charts.PALETTE[1])],
            format_number, width=WIDE_CHART),
        charts.line_chart(
            "chart_tokens", titles[1], captions[1], labels, points,
            [charts.Series("prompt", _("Prompt tokens"), [t.prompt_tokens for t in totals], charts.PALETTE[0]),
             charts.Series("completion", _("Completion tokens"), [t.completion_tokens for t in totals],
                           charts.PALETTE[2])],
            lambda value: charts.compact_number(value, locale)),
        charts.bar_chart(
            "chart_spend", titles[2], captions[2], labels, points,
            [charts.Series("spend", _("Spend"), [t.spend_micro for t in totals], charts.PALETTE[3])], format_money),
    ]


def _context(filters: Filters) -> dict:
    usage = filters.usage
    today = utcnow().date()
    locale = get_locale()
    models = sorted(set(get_snapshot().models) | ({usage.model_id} if usage.model_id else set()))
    presets = [(label, filters.args(**{"from": (today - timedelta(days=days - 1)).isoformat(),
                                       "to": today.isoformat(), "page": None})) for days, label in PRESETS]
    return dict(filters=filters, usage=usage, keys=reports.workspace_keys(usage.workspace_id), models=models,
                presets=presets, today=today, now=utcnow(), percent=lambda share: charts.percent(share, locale))


@bp.get("/")
@workspace_view()
def index():
    filters = parse_filters(request.args, g.workspace.id, utcnow().date())
    usage = filters.usage
    context = _context(filters)
    # The poll and the log's own controls need only their region; skip the rest of the reports.
    target = htmx.target()
    if target == "usage_totals":
        return render("usage/index.html", **context, totals=reports.totals(usage))
    if target == "request_log":
        return render("usage/index.html", **context, log=reports.request_log(usage, filters.page, sort=filters.sort))
    chart_set = _hourly_charts(reports.hourly(usage), get_locale()) if filters.hourly else \
        _charts(reports.daily(usage), get_locale())
    return render("usage/index.html", **context, totals=reports.totals(usage), charts=chart_set,
                  mix=reports.model_mix(usage), errors=reports.errors_by_code(usage),
                  log=reports.request_log(usage, filters.page, sort=filters.sort))


@bp.get("/export.csv")
@workspace_view()
def export():
    filters = parse_filters(request.args, g.workspace.id, utcnow().date())
    usage = filters.usage
    currency = current_app.config["CURRENCY"]
    name = f"ethergate-usage-{g.workspace.slug}-{usage.first_day.isoformat()}-{usage.last_day.isoformat()}.csv"

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for row in reports.export_rows(usage):
            writer.writerow(_csv_row(row, currency))
            if buffer.tell() > 32768:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(lines()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _csv_safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_row(row: reports.LogRow, currency: str) -> list:
    log = row.log
    values = (log.created_at.isoformat(timespec="milliseconds") + "Z", log.request_id, log.model_id, log.provider,
              log.upstream_model, log.upstream_request_id, row.key_name, row.key_prefix, log.stream,
              log.status_code, log.error_code, log.error_message, log.prompt_tokens, log.cached_tokens,
              log.completion_tokens, log.reasoning_tokens, format_plain(log.cost_micro), currency,
              log.estimated, log.cancelled, log.latency_ms, log.ttft_ms, log.surface)
    return [_csv_safe("" if value is None else str(value).lower() if isinstance(value, bool) else value)
            for value in values]


@bp.get("/requests/<request_id>")
@workspace_view()
def request_detail(request_id: str):
    if not SANE_REQUEST_ID.match(request_id):
        abort(404)
    found = reports.find_request(g.workspace.id, request_id)
    if not found:
        abort(404)
    chosen = request.args.get("row", type=int)
    log = next((row for row in found if row.id == chosen), found[0])
    key = reports.key_of(g.workspace.id, log.api_key_id)
    entries = reports.ledger_entries(g.workspace.id, log)
    snapshot = get_snapshot()
    return render("usage/request.html", log=log, others=[row for row in found if row.id != log.id], key=key,
                  entries=entries, in_catalog=log.model_id in snapshot.models if log.model_id else False,
                  back=request.referrer if _same_usage_page(request.referrer) else url_for("usage.index"))


def _same_usage_page(referrer: str | None) -> bool:
    if not referrer:
        return False
    base = url_for("usage.index", _external=True)
    return referrer.startswith(base) and "/requests/" not in referrer
