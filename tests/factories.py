"""Small factories so tests state only what matters to them."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

_counter = itertools.count(1)


@dataclass
class Tenant:
    user: object
    workspace: object
    key: object | None = None
    plaintext: str | None = None


class Factories:
    def __init__(self, app):
        self.app = app

    def user(self, email: str | None = None, password: str = "correct horse battery", staff: bool = False):
        from ethergate.accounts.services import create_user
        from ethergate.extensions import db
        user = create_user(email or f"user{next(_counter)}@example.com", password, is_staff=staff)
        db.session.commit()
        return user

    def workspace(self, owner=None, name: str | None = None, credits: str | None = None):
        from ethergate.accounts.services import create_workspace
        from ethergate.billing import ledger
        from ethergate.billing.credit_accounts import open_account
        from ethergate.extensions import db
        from ethergate.money import parse_amount
        owner = owner or self.user()
        workspace = create_workspace(name or f"Workspace {next(_counter)}", owner)
        open_account(workspace.id)
        db.session.commit()
        if credits is not None:
            ledger.post_entry(workspace.id, parse_amount(credits), "grant", note="test credits", actor_label="test")
        return workspace

    def key(self, workspace, **options):
        from ethergate.extensions import db
        from ethergate.keys.services import issue_key
        issued = issue_key(workspace.id, name=options.pop("name", "test key"), **options)
        db.session.commit()
        return issued

    def tenant(self, credits: str | None = "100.00", **key_options) -> Tenant:
        user = self.user()
        workspace = self.workspace(owner=user, credits=credits)
        issued = self.key(workspace, **key_options)
        return Tenant(user=user, workspace=workspace, key=issued.key, plaintext=issued.plaintext)
