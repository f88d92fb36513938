"""The operator CLI for credits: codes, redemptions, adjustments and the ledger listing, as a script drives it."""
import pytest
from sqlalchemy import create_engine, select

from ethergate.accounts.models import AuditEvent
from ethergate.billing.models import LedgerEntry, RedemptionCode
from ethergate.settings import parse_database_url
from tests.test_cli import dump_database, flask_cli  # noqa: F401


@pytest.fixture
def slug(flask_cli):
    assert flask_cli("admin", "create-user", "ops@example.com", "--password", "longenough").returncode == 0
    made = flask_cli("admin", "create-workspace", "Billing Ops", "--owner", "ops@example.com")
    assert made.returncode == 0
    return made.stdout.strip()


def rows(database_url, query) -> list:
    engine = create_engine(parse_database_url("url", database_url))
    try:
        with engine.connect() as conn:
            return conn.execute(query).all()
    finally:
        engine.dispose()


def ledger_tsv(flask_cli, slug, *args) -> list[dict]:
    result = flask_cli("admin", "ledger", slug, *args)
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.rstrip("\n").split("\n")
    columns = header.split("\t")
    return [dict(zip(columns, line.split("\t"), strict=True)) for line in lines]


def test_create_code_prints_it_once_and_redeem_credits_once(flask_cli, database_url, slug):
    made = flask_cli("admin", "create-code", "7.25", "--note", "conference promo", "--expires-in-days", "30")
    assert made.returncode == 0, made.stderr
    code = made.stdout.strip()
    assert code.startswith("EG-") and len(code) == 22 and "\n" not in code
    assert code not in dump_database(database_url)
    [stored] = rows(database_url, select(RedemptionCode.amount_micro, RedemptionCode.note, RedemptionCode.expires_at,
                                         RedemptionCode.created_at))
    assert stored.amount_micro == 7_250_000 and stored.note == "conference promo"
    assert 29.9 < (stored.expires_at - stored.created_at).total_seconds() / 86400 <= 30

    redeemed = flask_cli("admin", "redeem-code", slug, code.lower().replace("-", " "))
    assert redeemed.returncode == 0, redeemed.stderr
    assert redeemed.stdout.strip() == "7.25"
    again = flask_cli("admin", "redeem-code", slug, code)
    assert again.returncode != 0 and "already redeemed" in again.stderr and "Traceback" not in again.stderr
    assert flask_cli("admin", "balance", slug).stdout.strip() == "7.25"


def test_adjust_takes_a_signed_amount_and_a_note(flask_cli, database_url, slug):
    assert flask_cli("admin", "grant-credits", slug, "10", "--note", "invoice 42").returncode == 0
    debit = flask_cli("admin", "adjust", slug, "-2.5", "--note", "double-billed request req_9")
    assert debit.returncode == 0, debit.stderr
    assert debit.stdout.strip() == "7.50"
    credit = flask_cli("admin", "adjust", slug, "0.000001", "--note", "rounding")
    assert credit.stdout.strip() == "7.500001"

    entries = rows(database_url, select(LedgerEntry.kind, LedgerEntry.amount_micro, LedgerEntry.actor_label,
                                        LedgerEntry.note).order_by(LedgerEntry.id))
    assert entries == [("grant", 10_000_000, "cli", "invoice 42"),
                       ("adjustment", -2_500_000, "cli", "double-billed request req_9"),
                       ("adjustment", 1, "cli", "rounding")]
    audits = rows(database_url, select(AuditEvent.action, AuditEvent.actor_label, AuditEvent.details)
                  .where(AuditEvent.action.like("credits.%")).order_by(AuditEvent.id))
    assert [(a.action, a.actor_label) for a in audits] == [("credits.grant", "cli"), ("credits.adjustment", "cli"),
                                                          ("credits.adjustment", "cli")]
    assert audits[1].details["amount_micro"] == -2_500_000 and audits[1].details["note"].startswith("double")


@pytest.mark.parametrize("args,message", [
    (("-1", "--note", "   "), "needs a note"),
    (("-1",), "Missing option '--note'"),
    (("0", "--note", "zero"), "must not be zero"),
    (("-1.0000001", "--note", "too fine"), "6 decimal places"),
    (("-10.01", "--note", "more than there is"), "below zero"),
])
def test_refused_adjustments_change_nothing(flask_cli, slug, args, message):
    flask_cli("admin", "grant-credits", slug, "10")
    result = flask_cli("admin", "adjust", slug, *args)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr
    assert flask_cli("admin", "balance", slug).stdout.strip() == "10.00"


def test_retried_adjustment_with_idempotency_key_applies_once(flask_cli, slug):
    flask_cli("admin", "grant-credits", slug, "5")
    for _ in range(2):
        result = flask_cli("admin", "adjust", slug, "-1", "--note", "refund fee", "--idempotency-key", "case-9")
        assert result.returncode == 0 and result.stdout.strip() == "4.00"
    assert flask_cli("admin", "balance", slug).stdout.strip() == "4.00"


def test_ledger_lists_recent_entries_newest_first_as_tsv(flask_cli, slug):
    flask_cli("admin", "grant-credits", slug, "3", "--note", "first\tgrant\nwith breaks")
    flask_cli("admin", "adjust", slug, "-0.5", "--note", "fee")
    code = flask_cli("admin", "create-code", "1").stdout.strip()
    flask_cli("admin", "redeem-code", slug, code)

    listed = ledger_tsv(flask_cli, slug)
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in listed] == [
        ("redemption", "1.00", "3.50"), ("adjustment", "-0.50", "2.50"), ("grant", "3.00", "3.00")]
    assert listed[2]["note"] == "first grant with breaks" and listed[2]["actor"] == "cli"
    assert listed[0]["reference"] == code[:7] and code not in flask_cli("admin", "ledger", slug).stdout
    assert int(listed[0]["id"]) > int(listed[1]["id"]) > int(listed[2]["id"])
    assert [e["kind"] for e in ledger_tsv(flask_cli, slug, "--limit", "1")] == ["redemption"]


@pytest.mark.parametrize("args,message", [
    (("admin", "redeem-code", "no-such-ws", "EG-2222-3333-4444-5555"), "unknown workspace"),
    (("admin", "adjust", "no-such-ws", "1", "--note", "x"), "unknown workspace"),
    (("admin", "ledger", "no-such-ws"), "unknown workspace"),
    (("admin", "create-code", "0"), "must not be zero"),
    (("admin", "create-code", "--", "-3"), "must be positive"),
    (("admin", "create-code", "1", "--expires-in-days", "0"), "--expires-in-days"),
    (("admin", "ledger", "x", "--limit", "0"), "--limit"),
])
def test_errors_are_one_line_and_non_zero(flask_cli, args, message):
    result = flask_cli(*args)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_unknown_code_is_refused(flask_cli, slug):
    for code in ("EG-2222-3333-4444-5555", "not a code"):
        result = flask_cli("admin", "redeem-code", slug, code)
        assert result.returncode != 0 and "not valid" in result.stderr
    assert flask_cli("admin", "balance", slug).stdout.strip() == "0.00"


def test_a_codes_staff_note_stays_with_staff_and_its_description_reaches_the_ledger(flask_cli, slug):
    quiet = flask_cli("admin", "create-code", "1", "--note", "for ACME, deal 77 (internal)").stdout.strip()
    told = flask_cli("admin", "create-code", "2", "--note", "webinar list B", "--description", "Webinar credits")
    assert told.returncode == 0, told.stderr
    for code in (quiet, told.stdout.strip()):
        assert flask_cli("admin", "redeem-code", slug, code).returncode == 0
    notes = [row["note"] for row in ledger_tsv(flask_cli, slug) if row["kind"] == "redemption"]
    assert notes == ["Webinar credits", ""]
def test_a_reused_idempotency_key_with_another_note_is_a_conflict(flask_cli, slug):
    first = flask_cli("admin", "grant-credits", slug, "5", "--note", "invoice 7", "--idempotency-key", "k-1")
    assert first.returncode == 0, first.stderr
    again = flask_cli("admin", "grant-credits", slug, "5", "--note", "invoice 7", "--idempotency-key", "k-1")
    assert again.returncode == 0 and again.stdout.strip() == "5.00"
    other = flask_cli("admin", "grant-credits", slug, "5", "--note", "invoice 8", "--idempotency-key", "k-1")
    assert other.returncode != 0 and "conflict" in other.stderr and "Traceback" not in other.stderr
    assert flask_cli("admin", "balance", slug).stdout.strip() == "5.00"


def test_a_cli_grant_and_its_audit_row_are_one_transaction(app, factories, monkeypatch):
    """The audit insert fails after the entry was written: neither may remain."""
    from ethergate import cli
    from ethergate.accounts import services as account_services

    workspace = factories.workspace()

    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr("ethergate.billing.grants.record_audit", broken_audit)
    result = app.test_cli_runner().invoke(cli.admin, ["grant-credits", workspace.slug, "5", "--note", "invoice 9"])
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    db_session = account_services.db.session
    db_session.rollback()
    assert db_session.scalars(select(LedgerEntry).where(LedgerEntry.workspace_id == workspace.id)).all() == []
    assert db_session.scalars(select(AuditEvent).where(AuditEvent.workspace_id == workspace.id,
                                                        AuditEvent.action == "credits.grant")).all() == []
    assert ledger_balance(workspace.id) == 0


def ledger_balance(workspace_id: int) -> int:
    from ethergate.billing import ledger
    return ledger.account_state(workspace_id)[0]
