"""Operator commands: `flask --app wsgi admin ...`, `billing ...` and `catalog sync`.

Each command exits 0 on success and non-zero with one line on stderr on any error.
"""
from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .accounts import services as accounts
from .billing import codes, grants, ledger, topup_errors
from .billing.audit import audit_ledger
from .billing.credit_accounts import open_account
from .billing.models import LedgerEntry
from .catalog.sync import CatalogError, sync_catalog
from .database import unit_of_work
from .extensions import db
from .keys import services as keys
from .money import AmountError, format_plain, parse_amount
from .timeutil import utcnow

admin = AppGroup("admin", help="Manage users, workspaces, credits and keys.")
billing = AppGroup("billing", help="Ledger maintenance.")
catalog = AppGroup("catalog", help="Load the model catalog.")


def fail(message: str) -> None:
    raise click.ClickException(message)


def require_workspace(slug: str):
    workspace = accounts.workspace_by_slug(slug)
    if workspace is None:
        fail(f"unknown workspace {slug!r}")
    return workspace


@admin.command("create-user")
@click.argument("email")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--staff", is_flag=True, help="Give access to the support console.")
def create_user(email: str, password: str, staff: bool) -> None:
    try:
        with unit_of_work():
            user = accounts.create_user(email, password, is_staff=staff)
            accounts.record_audit("user.created", actor_label="cli", target=user.email, details={"staff": staff})
    except accounts.AccountError as exc:
        fail(str(exc))
    click.echo(user.email)


@admin.command("create-workspace")
@click.argument("name")
@click.option("--owner", required=True, help="Email of an existing user.")
def create_workspace(name: str, owner: str) -> None:
    user = accounts.find_user(owner)
    if user is None:
        fail(f"unknown user {owner!r}")
    try:
        with unit_of_work():
            workspace = accounts.create_workspace(name, user)
            open_account(workspace.id)
            accounts.record_audit("workspace.created", actor_label="cli", workspace_id=workspace.id,
                                  target=workspace.slug, details={"owner": user.email})
    except accounts.AccountError as exc:
        fail(str(exc))
    click.echo(workspace.slug)


@admin.command("grant-credits")
@click.argument("workspace")
@click.argument("amount")
@click.option("--note", default=None, help="Why the credits were granted.")
@click.option("--idempotency-key", default=None, help="Make a retried grant a no-op.")
def grant_credits(workspace: str, amount: str, note: str | None, idempotency_key: str | None) -> None:
    ws = require_workspace(workspace)
    entry = post_staff_entry(ws, "grant", amount_argument(amount), note, idempotency_key)
    click.echo(format_plain(entry.balance_after))


# A negative AMOUNT such as -5 would otherwise be parsed as an unknown option.
@admin.command("adjust", context_settings={"ignore_unknown_options": True})
@click.argument("workspace")
@click.argument("amount")
@click.option("--note", required=True, help="Why the balance is corrected (kept on the entry).")
@click.option("--idempotency-key", default=None, help="Make a retried adjustment a no-op.")
def adjust(workspace: str, amount: str, note: str, idempotency_key: str | None) -> None:
    """Correct a balance by a signed AMOUNT; a debit never takes the available balance below zero."""
    ws = require_workspace(workspace)
    note = note.strip()
    if not note:
        fail("an adjustment needs a note saying why")
    entry = post_staff_entry(ws, "adjustment", amount_argument(amount, allow_negative=True), note, idempotency_key)
    click.echo(format_plain(entry.balance_after))


def amount_argument(text: str, allow_negative: bool = False) -> int:
    try:
        return parse_amount(text, allow_negative=allow_negative)
    except AmountError as exc:
        fail(str(exc))


def post_staff_entry(ws, kind: str, micro: int, note: str | None, idempotency_key: str | None):
    """A grant or adjustment made from the CLI: the same billing service as the console, one transaction."""
    service = grants.grant if kind == "grant" else grants.adjust
    try:
        return service(ws.id, micro, None, note or "granted with the operator CLI", idempotency_key, operator="cli")
    except ledger.InsufficientCredits as short:
        fail(f"{ws.slug} has {format_plain(short.available)} available; a debit of "
             f"{format_plain(short.needed)} would take it below zero")
    except ledger.IdempotencyConflict as conflict:
        fail(f"conflict: {conflict}")
    except (ledger.LedgerError, topup_errors.TopupError) as exc:
        fail(str(exc))


@admin.command("create-code")
@click.argument("amount")
@click.option("--note", default=None, help="Why and for whom the code was made (staff only, never shown to the redeemer).")
@click.option("--description", default=None, help="What the redeemer's ledger entry and CSV say, e.g. 'Webinar credits'.")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None, help="Days until the code expires.")
def create_code(amount: str, note: str | None, description: str | None, expires_in_days: int | None) -> None:
    """Print a new redemption code; it is shown this once and only its digest is stored."""
    micro = amount_argument(amount)
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        _code, plaintext = codes.create_code(micro, note=note, description=description, expires_at=expires_at,
                                              actor_label="cli")
    except topup_errors.TopupError as exc:
        fail(str(exc))
    click.echo(plaintext)


@admin.command("redeem-code")
@click.argument("workspace")
@click.argument("code")
def redeem_code(workspace: str, code: str) -> None:
    """Credit a redemption code to a workspace and print its new balance."""
    ws = require_workspace(workspace)
    try:
        entry = codes.redeem_code(ws.id, code, actor_label="cli")
    except topup_errors.TopupError as exc:
        fail(str(exc))
    click.echo(format_plain(entry.balance_after))


LEDGER_COLUMNS = ("id", "created_at", "kind", "amount", "balance_after", "request_id", "hold_id", "model",
                  "reference", "actor", "note")


@admin.command("ledger")
@click.argument("workspace")
@click.option("--limit", type=click.IntRange(min=1), default=20, help="How many entries, newest first.")
def ledger_entries(workspace: str, limit: int) -> None:
    """Print a workspace's most recent ledger entries as tab-separated values, with a header line."""
    ws = require_workspace(workspace)
    rows = db.session.scalars(select(LedgerEntry).where(LedgerEntry.workspace_id == ws.id)
                              .order_by(LedgerEntry.id.desc()).limit(limit)).all()
    click.echo("\t".join(LEDGER_COLUMNS))
    for entry in rows:
        fields = (entry.id, entry.created_at.isoformat(timespec="seconds"), entry.kind,
                  format_plain(entry.amount_micro), format_plain(entry.balance_after_micro), entry.request_id,
                  entry.hold_id, entry.model_id, entry.reference, entry.actor_label, entry.note)
        click.echo("\t".join(tsv_field(value) for value in fields))


def tsv_field(value) -> str:
    # A note may hold tabs or line breaks, which would shift every later column.
    return "" if value is None else " ".join(str(value).split())


@admin.command("balance")
@click.argument("workspace")
def balance(workspace: str) -> None:
    ws = require_workspace(workspace)
    posted, _held = ledger.account_state(ws.id)
    click.echo(format_plain(posted))


@admin.command("create-key")
@click.argument("workspace")
@click.option("--name", default="default", help="A label for the key.")
@click.option("--rpm", type=click.IntRange(min=1), default=None, help="Requests per minute for this key.")
def create_key(workspace: str, name: str, rpm: int | None) -> None:
    ws = require_workspace(workspace)
    try:
        issued = keys.create_key(ws.id, name=name, rpm_limit=rpm, actor="cli")
    except keys.KeyPolicyError as exc:
        fail(str(exc))
    click.echo(issued.plaintext)


def require_key(ws, prefix: str):
    found = [k for k in keys.list_keys(ws.id) if k.prefix == prefix]
    if len(found) != 1:
        fail(f"no single key with prefix {prefix!r} in {ws.slug}" if found else f"unknown key {prefix!r}")
    return found[0]


@admin.command("revoke-key")
@click.argument("workspace")
@click.argument("prefix")
def revoke_key(workspace: str, prefix: str) -> None:
    ws = require_workspace(workspace)
    try:
        key = keys.revoke_key(require_key(ws, prefix).id, actor="cli", workspace_id=ws.id)
    except keys.KeyPolicyError as exc:
        fail(str(exc))
    click.echo(key.prefix)


@admin.command("rotate-key")
@click.argument("workspace")
@click.argument("prefix")
@click.option("--grace", type=click.IntRange(min=0), default=0, help="Seconds the old key keeps working.")
def rotate_key(workspace: str, prefix: str, grace: int) -> None:
    ws = require_workspace(workspace)
    try:
        issued = keys.rotate_key(require_key(ws, prefix).id, grace_seconds=grace, actor="cli", workspace_id=ws.id)
    except keys.KeyPolicyError as exc:
        fail(str(exc))
    click.echo(issued.plaintext)


@catalog.command("sync")
@click.option("--path", default=None, help="Catalog file (default: ETHERGATE_CATALOG_PATH or the shipped one).")
def catalog_sync(path: str | None) -> None:
    try:
        with unit_of_work():  # the sync and its audit row land together
            report = sync_catalog(path or current_app.config.get("CATALOG_PATH"), current_app.config["CURRENCY"])
            if report.changed:
                accounts.record_audit("catalog.synced", actor_label="cli",
                                      details={"created": report.created, "updated": report.updated,
                                               "deactivated": report.deactivated})
    except CatalogError as exc:
        fail(str(exc))
    click.echo(report.summary())


@billing.command("sweep-holds")
def sweep_holds() -> None:
    """Post owed captures and release holds whose request never finished (running servers do this every 30 s)."""
    result = ledger.sweep()
    click.echo(f"posted {result.posted} owed captures, released {result.released} expired holds"
               + (f", {result.failed} captures still owed" if result.failed else ""))


@billing.command("audit")
@click.argument("workspace", required=False)
def audit(workspace: str | None) -> None:
    """Recompute balances, held sums and usage costs from the ledger; exit non-zero on any discrepancy."""
    ws_id = require_workspace(workspace).id if workspace else None
    report = audit_ledger(ws_id)
    for line in report.discrepancies:
        click.echo(line)
    summary = f"audited {report.workspaces} workspaces and {report.entries} entries"
    if not report.clean:
        fail(f"{summary}: {len(report.discrepancies)} discrepancies")
    click.echo(f"{summary}: no discrepancies")


def register(app: Flask) -> None:
    app.cli.add_command(admin)
    app.cli.add_command(billing)
    app.cli.add_command(catalog)
