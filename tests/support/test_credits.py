"""Staff adjustments and redemption codes from the support workspace page."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ethergate.accounts.models import AuditEvent
from ethergate.billing import codes, ledger
from ethergate.billing.models import LedgerEntry, RedemptionCode
from ethergate.extensions import db

CODE_RE = re.compile(r"EG-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
def acme(factories):
    return factories.workspace(name="Acme", credits="10.00")


def page(client, workspace) -> str:
    response = client.get(f"/support/workspaces/{workspace.slug}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def adjust(client, workspace, amount: str, note: str, htmx: bool = False, **extra):
    path = f"/support/workspaces/{workspace.slug}/adjust"
    data = {"amount": amount, "note": note, **extra}
    if htmx:
        return client.htmx_post(path, data, target="credit", page=f"/support/workspaces/{workspace.slug}")
    return client.submit(path, data, page=f"/support/workspaces/{workspace.slug}")


def adjustments(workspace) -> list[LedgerEntry]:
    return list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.workspace_id == workspace.id,
                                                             LedgerEntry.kind == "adjustment")
                                   .order_by(LedgerEntry.id)))


def assert_reconciles(workspace) -> int:
    balance, held = ledger.account_state(workspace.id)
    assert balance == ledger.recompute_balance(workspace.id)
    return balance


def test_workspace_page_shows_balance_members_keys_errors_and_ledger(client, staff, factories, acme, join):
    member = join(acme, "admin")
    issued = factories.key(acme, name="ci runner")
    html = page(client, acme)
    for text in ("Acme", acme.slug, "¥10.00", member.email, "Admin", issued.key.prefix, "ci runner", "active",
                 "test credits", "No errors."):
        assert text in html, text


def test_positive_and_negative_adjustments_with_notes(client, staff, acme):
    response = adjust(client, acme, "2.50", "refund for outage INC-42")
    assert response.status_code == 303 and response.headers["Location"] == f"/support/workspaces/{acme.slug}"
    html = page(client, acme)
    assert "Balance adjusted by ¥2.50. New balance: ¥12.50." in html
    assert "refund for outage INC-42" in html

    response = adjust(client, acme, "-0.75", "duplicate credit", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="credit"') and "<html" not in html  # only the swapped block
    assert "¥11.75" in html and "hx-swap-oob" in html  # the flash rides along out-of-band

    first, second = adjustments(acme)
    assert (first.amount_micro, first.note, first.actor_label, first.actor_user_id) == (
        2_500_000, "refund for outage INC-42", staff.email, staff.id)
    assert (second.amount_micro, second.note) == (-750_000, "duplicate credit")
    assert assert_reconciles(acme) == 11_750_000
    audited = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "credits.adjustment")
                                 .order_by(AuditEvent.id)).all()
    assert [(e.workspace_id, e.actor_user_id, e.details["amount_micro"], e.details["note"]) for e in audited] == [
        (acme.id, staff.id, 2_500_000, "refund for outage INC-42"), (acme.id, staff.id, -750_000, "duplicate credit")]


def test_missing_note_is_a_form_error(client, staff, acme):
    response = adjust(client, acme, "5.00", "   ", htmx=True)
    assert response.status_code == 422
    assert "Say why: the note is kept on the ledger entry and in the audit log." in response.get_data(as_text=True)
    assert adjustments(acme) == [] and assert_reconciles(acme) == 10_000_000


@pytest.mark.parametrize("amount", ["abc", "0", "1.0000001", "1e3", ""])
def test_bad_amounts_are_form_errors(client, staff, acme, amount):
    response = adjust(client, acme, amount, "a note")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a non-zero amount" in html or "Enter an amount." in html
    assert adjustments(acme) == []


def test_debit_beyond_available_is_refused_clearly(client, staff, acme):
    ledger.reserve(acme.id, 4_000_000, request_id="in-flight-1")  # 6.00 of the 10.00 is available
    response = adjust(client, acme, "-6.50", "chargeback", htmx=True)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert ("A debit of ¥6.50 would take the available balance below zero: ¥6.00 is available "
            "(balance ¥10.00, ¥4.00 held by requests in flight).") in html
    assert adjustments(acme) == []
    assert adjust(client, acme, "-6.00", "chargeback").status_code == 303
    assert assert_reconciles(acme) == 4_000_000
    assert ledger.account_state(acme.id) == (4_000_000, 4_000_000)


def test_a_double_submitted_adjustment_lands_once(client, staff, acme):
    for _ in range(2):
        assert adjust(client, acme, "1.00", "goodwill", submission="same-form-1").status_code == 303
    assert len(adjustments(acme)) == 1 and assert_reconciles(acme) == 11_000_000
    assert "was not applied twice" in page(client, acme)


def test_staff_forms_need_the_csrf_token(client, staff, acme):
    path = f"/support/workspaces/{acme.slug}/adjust"
    assert client.post(path, data={"amount": "5", "note": "no token"}).status_code == 400
    response = client.post(path, data={"amount": "5", "note": "bad token"},
                           headers={"HX-Request": "true", "X-CSRFToken": "forged"})
    assert response.status_code == 400
    assert client.post("/support/codes", data={"amount": "5", "note": "no token"}).status_code == 400
    assert adjustments(acme) == [] and db.session.scalars(select(RedemptionCode)).all() == []


def create_code(client, htmx: bool = True, **data):
    if htmx:
        return client.htmx_post("/support/codes", data, target="redemption-code", page="/support/")
    return client.submit("/support/codes", data, page="/support/")


def test_a_code_is_shown_once_and_redeems(client, staff, acme, factories):
    response = create_code(client, amount="25", note="conference voucher", expires_in_days="30")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="redemption-code"')
    [plaintext] = set(CODE_RE.findall(html))
    assert "shown only this once" in html and "¥25.00" in html and "conference voucher" in html

    [code] = db.session.scalars(select(RedemptionCode)).all()
    assert code.digest == codes.digest_code(plaintext) and plaintext not in (code.prefix, code.note)
    assert (code.amount_micro, code.created_by_id) == (25_000_000, staff.id) and code.expires_at is not None
    assert plaintext not in page(client, acme)
    audit_page = client.get("/support/audit?workspace=-").get_data(as_text=True)
    assert code.prefix in audit_page and plaintext not in audit_page
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "code.created"))
    assert (event.actor_user_id, event.target, event.details["amount_micro"]) == (staff.id, code.prefix, 25_000_000)

    customer = factories.workspace(name="Customer")
    codes.redeem_code(customer.id, plaintext)
    assert ledger.account_state(customer.id)[0] == 25_000_000 == ledger.recompute_balance(customer.id)

    again = client.htmx_get("/support/codes/new", target="redemption-code")
    assert again.status_code == 200 and "<form" in again.get_data(as_text=True)


def test_code_form_errors_and_the_plain_form_post(client, staff):
    response = create_code(client, amount="25", note="")
    assert response.status_code == 422 and "only staff see this note" in response.get_data(as_text=True)
    response = create_code(client, amount="-5", note="x")
    assert response.status_code == 422 and "Enter a positive amount" in response.get_data(as_text=True)
    response = create_code(client, amount="5", note="x", expires_in_days="0")
    assert response.status_code == 422 and "Between 1 and 3650 days." in response.get_data(as_text=True)
    assert db.session.scalars(select(RedemptionCode)).all() == []

    response = create_code(client, htmx=False, amount="5", note="walk-in")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html and len(set(CODE_RE.findall(html))) == 1
    assert response.headers["Cache-Control"] == "no-store"


def test_a_reused_form_with_another_note_is_a_409_conflict(client, staff, acme):
    assert adjust(client, acme, "1.00", "goodwill", submission="same-form-2").status_code == 303
    response = adjust(client, acme, "1.00", "another reason", htmx=True, submission="same-form-2")
    assert response.status_code == 409
    assert "already used for another adjustment" in response.get_data(as_text=True)
    assert len(adjustments(acme)) == 1 and assert_reconciles(acme) == 11_000_000
