"""The ledger auditor: a clean ledger passes; each kind of tampering fails with a line that names it."""
from dataclasses import dataclass

import pytest
from sqlalchemy import update

from ethergate.billing import ledger
from ethergate.billing.audit import audit_ledger
from ethergate.billing.models import CreditAccount, LedgerEntry
from ethergate.billing.pricing import AppliedPrices
from ethergate.extensions import db
from tests.test_cli import flask_cli  # noqa: F401

PRICES = AppliedPrices(800_000, 160_000, 2_000_000, "base")
TOKENS = dict(prompt_tokens=1200, cached_tokens=800, completion_tokens=500, reasoning_tokens=100)
COST = -(-(400 * 800_000 + 800 * 160_000 + 500 * 2_000_000) // 1_000_000)


@pytest.fixture
def books(factories):
    """A workspace with a grant, a metered usage entry and a request still holding credits."""
    workspace = factories.workspace(credits="10.00")
    hold = ledger.reserve(workspace.id, 50_000, request_id="req_a")
    ledger.capture(hold, COST, request_id="req_a", model_id="qwen/qwen-plus", provider="qwen",
                   pricing=PRICES.to_dict("CNY"), estimated=False, **TOKENS)
    ledger.reserve(workspace.id, 30_000, request_id="req_in_flight")
    books = Books(workspace.id, workspace.slug)
    db.session.rollback()  # the CLI below runs in another process: leave SQLite's write lock free
    return books


@dataclass(frozen=True)
class Books:
    id: int
    slug: str


def tamper(table, values, **where):
    db.session.execute(update(table).where(*[getattr(table.c, k) == v for k, v in where.items()]).values(**values))
    db.session.commit()


def cli(flask_cli, *args):
    db.session.rollback()
    return flask_cli(*args)


def test_a_clean_ledger_passes(books, flask_cli):
    report = audit_ledger()
    assert report.clean, report.discrepancies
    assert report.workspaces >= 1 and report.entries == 2
    result = cli(flask_cli, "billing", "audit", books.slug)
    assert result.returncode == 0 and "no discrepancies" in result.stdout, result.stderr


def test_a_tampered_balance_fails(books, flask_cli):
    tamper(CreditAccount.__table__, {"balance_micro": CreditAccount.__table__.c.balance_micro + 1},
           workspace_id=books.id)
    [line] = audit_ledger(books.id).discrepancies
    assert line == f"workspace {books.slug}: balance {10 - COST / 1e6 + 0.000001:.6f} but its entries sum to " \
                   f"{10 - COST / 1e6:.6f}"
    result = cli(flask_cli, "billing", "audit")
    assert result.returncode != 0 and line in result.stdout and "1 discrepancies" in result.stderr


def test_a_tampered_entry_amount_fails(books):
    tamper(LedgerEntry.__table__, {"amount_micro": -COST + 1}, workspace_id=books.id, kind="usage")
    lines = audit_ledger(books.id).discrepancies
    assert any(f"(usage, request req_a) billed {(COST - 1) / 1e6:.6f} but its tokens at its prices cost "
               f"{COST / 1e6:.6f}" in line for line in lines), lines
    assert any("says balance after" in line for line in lines), lines
    assert any("balance" in line and "but its entries sum to" in line for line in lines), lines


def test_tampered_stored_prices_fail(books):
    tampered = {**PRICES.to_dict("CNY"), "output_micro": 1_000_000}
    tamper(LedgerEntry.__table__, {"pricing": tampered}, workspace_id=books.id, kind="usage")
    [line] = audit_ledger(books.id).discrepancies
    assert "(usage, request req_a) billed" in line and "but its tokens at its prices cost" in line


def test_a_tampered_held_sum_fails(books, flask_cli):
    tamper(CreditAccount.__table__, {"held_micro": 0}, workspace_id=books.id)
    [line] = audit_ledger(books.id).discrepancies
    assert line == f"workspace {books.slug}: held 0.00 but its pending holds sum to 0.03"
    result = cli(flask_cli, "billing", "audit", books.slug)
    assert result.returncode != 0 and line in result.stdout


def test_an_unknown_workspace_is_an_error(app, flask_cli):
    result = cli(flask_cli, "billing", "audit", "no-such-workspace")
    assert result.returncode != 0 and "unknown workspace" in result.stderr
