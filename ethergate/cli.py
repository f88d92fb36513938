"""Operator commands: `flask --app wsgi admin ...` and `flask --app wsgi catalog sync`.

Each command exits 0 on success and non-zero with one line on stderr on any error.
"""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .accounts import services as accounts
from .billing import ledger
from .catalog.sync import CatalogError, sync_catalog
from .extensions import db
from .keys import services as keys
from .money import AmountError, format_plain, parse_amount

admin = AppGroup("admin", help="Manage users, workspaces, credits and keys.")
billing = AppGroup("billing", help="Ledger maintenance.")
catalog = AppGroup("catalog", help="Load the model catalog.")


def fail(message: str) -> None:
    db.session.rollback()
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
        user = accounts.create_user(email, password, is_staff=staff)
        accounts.record_audit("user.created", actor_label="cli", target=user.email, details={"staff": staff})
        db.session.commit()
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
        workspace = accounts.create_workspace(name, user)
        accounts.record_audit("workspace.created", actor_label="cli", workspace_id=workspace.id,
                              target=workspace.slug, details={"owner": user.email})
        db.session.commit()
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
    try:
        micro = parse_amount(amount)
    except AmountError as exc:
        fail(str(exc))
    key = f"cli-grant:{ws.id}:{idempotency_key}" if idempotency_key else None
    try:
        entry = ledger.post_entry(ws.id, micro, "grant", note=note, actor_label="cli", idempotency_key=key)
    except ledger.LedgerError as exc:
        fail(str(exc))
    if not entry.replayed:
        accounts.record_audit("credits.granted", actor_label="cli", workspace_id=ws.id, target=ws.slug,
                              details={"amount_micro": micro, "note": note})
        db.session.commit()
    click.echo(format_plain(entry.balance_after))


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
        report = sync_catalog(path or current_app.config.get("CATALOG_PATH"), current_app.config["CURRENCY"])
    except CatalogError as exc:
        fail(str(exc))
    click.echo(report.summary())


@billing.command("sweep-holds")
def sweep_holds() -> None:
    """Release holds whose request never finished (running servers also do this every 30 s)."""
    click.echo(f"released {ledger.sweep_expired_holds()} expired holds")


def register(app: Flask) -> None:
    app.cli.add_command(admin)
    app.cli.add_command(billing)
    app.cli.add_command(catalog)
