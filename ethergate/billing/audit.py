"""The ledger auditor: recompute every balance, hold sum and usage cost from what the ledger stores.

Each workspace is read in one snapshot (REPEATABLE READ on PostgreSQL, SQLite's single writer), so
requests in flight while the audit runs never show up as discrepancies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ..accounts.models import Workspace
from ..extensions import db
from ..money import format_plain
from .models import CreditAccount, Hold, LedgerEntry
from .pricing import AppliedPrices, usage_cost

accounts = CreditAccount.__table__
entries = LedgerEntry.__table__
holds = Hold.__table__
workspaces = Workspace.__table__


@dataclass
class AuditReport:
    workspaces: int = 0
    entries: int = 0
    discrepancies: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.discrepancies


def audit_ledger(workspace_id: int | None = None) -> AuditReport:
    """Audit one workspace, or every workspace that has a credit account."""
    report = AuditReport()
    with _snapshot() as conn:
        query = select(accounts.c.workspace_id, workspaces.c.slug).join(
            workspaces, workspaces.c.id == accounts.c.workspace_id).order_by(accounts.c.workspace_id)
        if workspace_id is not None:
            query = query.where(accounts.c.workspace_id == workspace_id)
        targets = conn.execute(query).all()
    for target_id, slug in targets:
        with _snapshot() as conn:
            _audit_workspace(conn, target_id, slug, report)
        report.workspaces += 1
    return report


def _snapshot() -> "_Snapshot":
    conn = db.engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return _Snapshot(conn)


class _Snapshot:
    """A connection inside one read transaction, closed at the end."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def __enter__(self) -> Connection:
        self.conn.begin()
        return self.conn

    def __exit__(self, *exc) -> None:
        self.conn.rollback()
        self.conn.close()


def _audit_workspace(conn: Connection, workspace_id: int, slug: str, report: AuditReport) -> None:
    where = f"workspace {slug}"
    balance, held = conn.execute(select(accounts.c.balance_micro, accounts.c.held_micro)
                                 .where(accounts.c.workspace_id == workspace_id)).one()
    pending = conn.execute(select(func.coalesce(func.sum(holds.c.amount_micro), 0))
                           .where(holds.c.workspace_id == workspace_id, holds.c.status == "pending")).scalar_one()
    if held != pending:
        report.discrepancies.append(f"{where}: held {format_plain(held)} but its pending holds sum to "
                                    f"{format_plain(pending)}")
    running = 0
    # Streamed in batches: a workspace's ledger grows by one entry per request.
    rows = conn.execute(select(entries).where(entries.c.workspace_id == workspace_id).order_by(entries.c.id)
                        .execution_options(yield_per=2000))
    for entry in rows.mappings():
        report.entries += 1
        running += entry["amount_micro"]
        if entry["balance_after_micro"] != running:
            report.discrepancies.append(
                f"{where}: entry {entry['id']} ({entry['kind']}) says balance after "
                f"{format_plain(entry['balance_after_micro'])} but the entries up to it sum to {format_plain(running)}")
        if entry["kind"] == "usage":
            problem = _usage_discrepancy(entry)
            if problem:
                report.discrepancies.append(f"{where}: entry {entry['id']} (usage, request {entry['request_id']}) "
                                            f"{problem}")
    if balance != running:
        report.discrepancies.append(f"{where}: balance {format_plain(balance)} but its entries sum to "
                                    f"{format_plain(running)}")


def _usage_discrepancy(entry) -> str | None:
    """Why a usage entry's amount is not the cost of its stored tokens at its stored prices, or None."""
    pricing = entry["pricing"]
    if not pricing:
        return "has no stored prices, so its cost cannot be recomputed"
    try:
        prices = AppliedPrices(int(pricing["input_micro"]), int(pricing["cached_input_micro"]),
                               int(pricing["output_micro"]), str(pricing.get("source")))
    except (KeyError, TypeError, ValueError):
        return f"has unreadable stored prices {pricing!r}"
    if int(pricing.get("per_tokens") or 1_000_000) != 1_000_000:
        return f"has prices per {pricing.get('per_tokens')} tokens; this auditor knows per 1,000,000"
    cost = usage_cost({name: entry[name] for name in ("prompt_tokens", "cached_tokens", "completion_tokens",
                                                      "reasoning_tokens")}, prices)
    billed = -entry["amount_micro"]
    # An estimate is capped at its hold, so it may bill less than its tokens' price; never more.
    if billed == cost or (entry["estimated"] and 0 <= billed < cost):
        return None
    return (f"billed {format_plain(billed)} but its tokens at its prices cost {format_plain(cost)}"
            + (" (estimated)" if entry["estimated"] else ""))
