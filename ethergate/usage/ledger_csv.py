"""The ledger as CSV: every entry of a workspace, streamed in batches, money as plain decimals.

Written for spreadsheets: UTF-8 with a byte-order mark (Excel otherwise reads it as the local code
page), and text cells that a spreadsheet would run as a formula are prefixed with an apostrophe.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select

from ..database import unit_of_work
from ..billing.models import LedgerEntry
from ..extensions import db
from ..keys.models import ApiKey
from ..money import format_plain

BATCH = 1000
HEADER = ("entry_id", "created_at_utc", "type", "amount", "balance_after", "currency", "model", "provider",
          "api_key", "request_id", "prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens",
          "estimated", "reference", "note")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _count(value) -> str:
    return "" if value is None else str(int(value))


def ledger_csv(workspace_id: int, currency: str) -> Iterator[str]:
    """The CSV text in chunks, newest entry first; each batch is its own short read transaction."""
    entries, keys = LedgerEntry.__table__, ApiKey.__table__
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    yield "\ufeff" + buffer.getvalue()
    before = None
    while True:
        query = (select(entries, keys.c.prefix.label("key_prefix"))
                 .outerjoin(keys, keys.c.id == entries.c.api_key_id)
                 .where(entries.c.workspace_id == workspace_id)
                 .order_by(entries.c.id.desc()).limit(BATCH))
        if before is not None:
            query = query.where(entries.c.id < before)
        with unit_of_work(writes=False):  # no transaction stays open while the client reads
            rows = db.session.execute(query).all()
        if not rows:
            return
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            writer.writerow((
                row.id, row.created_at.strftime("%Y-%m-%d %H:%M:%S"), row.kind, format_plain(row.amount_micro),
                format_plain(row.balance_after_micro), currency, _text(row.model_id), _text(row.provider),
                _text(row.key_prefix), _text(row.request_id), _count(row.prompt_tokens), _count(row.cached_tokens),
                _count(row.completion_tokens), _count(row.reasoning_tokens), "yes" if row.estimated else "",
                _text(row.reference), _text(row.note)))
        yield buffer.getvalue()
        before = rows[-1].id
