"""The Credits page: balance, redeeming codes (with throttling), card payments, the ledger and its CSV."""
import csv
import io
import re

import pytest

from ethergate.billing import ledger, topups
from ethergate.usage import ledger_csv
from ethergate.billing.models import Payment
from ethergate.extensions import db
from ethergate.money import parse_amount
from ethergate.timeutil import utcnow
from tests.billing.stripe_helpers import WEBHOOK_SECRET, fake_stripe, session_event, signed  # noqa: F401

ROW_RE = re.compile(r'<tr id="entry-\d+">')


def credits_url(slug, path=""):
    return f"/console/w/{slug}/credits/{path}"


def new_code(amount="50.00", **options) -> str:
    _code, plaintext = topups.create_code(parse_amount(amount), **options)
    return plaintext


def balance(workspace) -> int:
    return ledger.account_state(workspace.id)[0]


def test_owner_sees_balance_held_and_forms(client, owner):
    response = client.get(credits_url(owner.slug))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert '<span class="stat-value" id="credit-balance-value">¥10.00</span>' in page
    assert '<span class="stat-value" id="credit-held-value">¥0.00</span>' in page
    assert 'id="credit_redeem"' in page and 'id="credit-low-balance"' not in page
    assert "test credits" in page and len(ROW_RE.findall(page)) == 1


def test_stripe_not_configured_means_no_card_form(client, owner):
    page = client.get(credits_url(owner.slug)).get_data(as_text=True)
    assert 'id="credit_checkout"' not in page and "Pay by card" not in page
    assert client.submit(credits_url(owner.slug, "checkout"), {"amount": "50"}).status_code == 404


def test_low_balance_warning(client, owner):
    ledger.post_entry(owner.workspace.id, -9_500_000, "adjustment", note="test")
    page = client.get(credits_url(owner.slug)).get_data(as_text=True)
    assert 'id="credit-low-balance"' in page and "¥0.50" in page


def test_members_see_the_balance_but_cannot_top_up(client, auth, owner, join):
    member = join(owner.workspace, "member")
    auth.logout()
    auth.login(member.email)
    page = client.get(credits_url(owner.slug)).get_data(as_text=True)
    assert "¥10.00" in page and 'id="credit_redeem"' not in page and "Only owners and admins can add credits." in page
    code = new_code()
    assert client.submit(credits_url(owner.slug, "redeem"), {"code": code}).status_code == 403
    assert balance(owner.workspace) == 10_000_000
    assert client.get(credits_url(owner.slug, "ledger.csv")).status_code == 200


def test_redeem_a_code_adds_credit_and_a_ledger_row(client, owner):
    code = new_code("50.00", note="staff: spring batch", description="launch promo")
    response = client.submit(credits_url(owner.slug, "redeem"), {"code": code.lower()})
    assert response.status_code == 303 and response.headers["Location"] == credits_url(owner.slug)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Code redeemed: ¥50.00 added." in page
    assert '<span class="stat-value" id="credit-balance-value">¥60.00</span>' in page
    assert "+¥50.00" in page and "redemption code" in page and code[:7] in page and "launch promo" in page
    assert balance(owner.workspace) == 60_000_000


def test_redeem_by_htmx_swaps_the_form_and_updates_balance_and_ledger_out_of_band(client, owner):
    code = new_code("5.00")
    response = client.htmx_post(credits_url(owner.slug, "redeem"), {"code": code}, target="credit_redeem")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="credit_redeem"')
    assert "Code redeemed: ¥5.00 added. The balance is now ¥15.00." in body
    assert '<div id="credit_balance" hx-swap-oob="true">' in body and "¥15.00" in body
    assert '<div id="ledger_table" hx-swap-oob="true">' in body and len(ROW_RE.findall(body)) == 2


def test_redeeming_twice_is_refused(client, owner):
    code = new_code("5.00")
    assert client.submit(credits_url(owner.slug, "redeem"), {"code": code}).status_code == 303
    again = client.submit(credits_url(owner.slug, "redeem"), {"code": code})
    assert again.status_code == 422
    assert "This code was already redeemed by this workspace." in again.get_data(as_text=True)
    fragment = client.htmx_post(credits_url(owner.slug, "redeem"), {"code": code}, target="credit_redeem")
    assert fragment.status_code == 422 and "already redeemed" in fragment.get_data(as_text=True)
    assert balance(owner.workspace) == 15_000_000


@pytest.mark.parametrize("code,message", [
    ("", "Enter the code, for example EG-XXXX-XXXX-XXXX-XXXX."),
    ("EG-AAAA-BBBB-CCCC-DDDD", "This redemption code is not valid. Check it and try again."),
    ("hello", "This redemption code is not valid."),
])
def test_bad_codes_are_explained_in_the_form(client, owner, code, message):
    response = client.submit(credits_url(owner.slug, "redeem"), {"code": code})
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_failed_redemptions_are_throttled_per_workspace(app, client, auth, owner, factories):
    app.config["REDEEM_FAILURES_PER_HOUR"] = 3
    for _ in range(3):
        response = client.htmx_post(credits_url(owner.slug, "redeem"), {"code": "EG-AAAA-BBBB-CCCC-DDDD"},
                                    target="credit_redeem")
        assert response.status_code == 422 and "not valid" in response.get_data(as_text=True)
    good = new_code("5.00")
    refused = client.submit(credits_url(owner.slug, "redeem"), {"code": good})
    assert refused.status_code == 429
    assert "Too many invalid codes for this workspace. Try again in 60 minutes." in refused.get_data(as_text=True)
    fragment = client.htmx_post(credits_url(owner.slug, "redeem"), {"code": good}, target="credit_redeem")
    assert fragment.status_code == 422 and "Too many invalid codes" in fragment.get_data(as_text=True)
    assert balance(owner.workspace) == 10_000_000

    other = factories.workspace(owner=owner.user, name="Other")  # its own budget of attempts
    assert client.submit(credits_url(other.slug, "redeem"), {"code": good}).status_code == 303
    assert balance(other) == 5_000_000


def test_ledger_is_paginated(client, owner):
    for n in range(30):
        ledger.post_entry(owner.workspace.id, -1_000, "usage", request_id=f"req_{n:02d}", model_id="qwen/qwen-plus")
    page = client.get(credits_url(owner.slug)).get_data(as_text=True)
    assert len(ROW_RE.findall(page)) == 25 and "req_29" in page and "req_04" not in page
    assert "Page 1 of 2 · 31 entries" in page and "?page=2" in page and "Newer" not in page

    fragment = client.htmx_get(credits_url(owner.slug) + "?page=2", target="ledger_table")
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith('<div id="ledger_table"')
    assert len(ROW_RE.findall(body)) == 6 and "req_04" in body and "test credits" in body and "Newer" in body

    direct = client.get(credits_url(owner.slug) + "?page=2").get_data(as_text=True)
    assert "<html" in direct and len(ROW_RE.findall(direct)) == 6
    assert len(ROW_RE.findall(client.get(credits_url(owner.slug) + "?page=99").get_data(as_text=True))) == 6


def test_csv_export_has_every_entry_as_plain_decimals(client, owner, monkeypatch):
    monkeypatch.setattr(ledger_csv, "BATCH", 4)  # several batches
    ledger.post_entry(owner.workspace.id, -2_345_000, "usage", request_id="req_csv", model_id="qwen/qwen-plus",
                      prompt_tokens=10, completion_tokens=5)
    for n in range(8):
        ledger.post_entry(owner.workspace.id, 1_000_000 + n, "adjustment", note=f"fix {n}")
    ledger.post_entry(owner.workspace.id, 500_000, "adjustment", note="=HYPERLINK(\"x\") 退款")
    response = client.get(credits_url(owner.slug, "ledger.csv"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    filename = f"ethergate-{owner.slug}-ledger-{utcnow():%Y%m%d}.csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response.is_streamed
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 11 and [int(r["entry_id"]) for r in rows] == sorted((int(r["entry_id"]) for r in rows),
                                                                            reverse=True)
    by_note = {row["note"]: row for row in rows}
    assert by_note["test credits"]["amount"] == "10.00" and by_note["test credits"]["type"] == "grant"
    assert by_note["fix 3"]["amount"] == "1.000003"
    assert "'=HYPERLINK(\"x\") 退款" in by_note
    usage = next(row for row in rows if row["type"] == "usage")
    assert (usage["amount"], usage["balance_after"], usage["currency"]) == ("-2.345", "7.655", "CNY")
    assert (usage["request_id"], usage["model"], usage["prompt_tokens"]) == ("req_csv", "qwen/qwen-plus", "10")


def test_csv_export_of_another_workspace_is_404(client, owner, factories):
    other = factories.workspace(name="Private", credits="1.00")
    assert client.get(credits_url(other.slug, "ledger.csv")).status_code == 404


@pytest.fixture
def stripe_app(app, fake_stripe):  # noqa: F811
    app.config.update(STRIPE_SECRET_KEY="sk_test_123", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                      STRIPE_API_BASE=fake_stripe.url, PUBLIC_BASE_URL="https://eg.example")
    return app


def test_card_payment_round_trip(stripe_app, client, owner, fake_stripe):  # noqa: F811
    page = client.get(credits_url(owner.slug))
    assert 'id="credit_checkout"' in page.get_data(as_text=True)
    assert "form-action 'self' https://checkout.stripe.com" in page.headers["Content-Security-Policy"]

    bad = client.submit(credits_url(owner.slug, "checkout"), {"amount": "0.5"})
    assert bad.status_code == 422 and "Enter an amount from 1 to 100,000." in bad.get_data(as_text=True)
    bad = client.htmx_post(credits_url(owner.slug, "checkout"), {"amount": "12.345"}, target="credit_checkout")
    assert bad.status_code == 422 and "at most 2 decimal places" in bad.get_data(as_text=True)

    response = client.submit(credits_url(owner.slug, "checkout"), {"amount": "50"})
    assert response.status_code == 303 and response.headers["Location"].startswith("https://checkout.stripe.com/")
    sent = fake_stripe.requests[-1]["body"]
    assert "success_url=https%3A%2F%2Feg.example%2Fconsole%2Fw%2Facme%2Fcredits%2Fcheckout%2Fsuccess" \
           "%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D" in sent
    htmx = client.htmx_post(credits_url(owner.slug, "checkout"), {"amount": "20"}, target="credit_checkout")
    assert htmx.status_code == 200 and htmx.headers["HX-Redirect"].startswith("https://checkout.stripe.com/")

    payment = db.session.scalar(db.select(Payment).where(Payment.amount_micro == 50_000_000))
    success = credits_url(owner.slug, f"checkout/success?session_id={payment.external_id}")
    page = client.get(success).get_data(as_text=True)
    assert "is credited when Stripe confirms it" in page and 'hx-trigger="every 2s"' in page
    poll = client.htmx_get(success, target="credit_payment")
    assert poll.status_code == 200 and 'hx-trigger="every 2s"' in poll.get_data(as_text=True)

    session = {"id": payment.external_id, "object": "checkout.session", "payment_status": "paid",
               "amount_total": 5000, "currency": "cny", "client_reference_id": str(owner.workspace.id),
               "metadata": {"workspace_id": str(owner.workspace.id), "amount_micro": "50000000"}}
    payload, header = signed(session_event("evt_1", "checkout.session.completed", session))
    assert client.post("/billing/stripe/webhook", data=payload,
                       headers={"Stripe-Signature": header, "Content-Type": "application/json"}).status_code == 200
    done = client.htmx_get(success, target="credit_payment")
    body = done.get_data(as_text=True)
    assert done.status_code == 286 and "Payment confirmed" in body and "every 2s" not in body
    assert "¥50.00 was added to Acme. The balance is now ¥60.00." in body

    cancel = client.get(credits_url(owner.slug, "checkout/cancel")).get_data(as_text=True)
    assert "nothing was charged" in cancel
    assert client.get(credits_url(owner.slug, "checkout/success?session_id=cs_unknown")).status_code == 404


def test_polling_stops_after_a_while(stripe_app, client, owner):
    db.session.add(Payment(provider="stripe", external_id="cs_old", workspace_id=owner.workspace.id,
                           amount_micro=5_000_000, status="pending", created_at=utcnow().replace(year=2020)))
    db.session.commit()
    poll = client.htmx_get(credits_url(owner.slug, "checkout/success?session_id=cs_old"), target="credit_payment")
    assert poll.status_code == 286 and "Stripe has not confirmed it yet" in poll.get_data(as_text=True)


def test_payments_of_other_workspaces_are_404(stripe_app, client, owner, factories):
    other = factories.workspace(name="Else")
    db.session.add(Payment(provider="stripe", external_id="cs_else", workspace_id=other.id, amount_micro=1_000_000,
                           status="paid", created_at=utcnow()))
    db.session.commit()
    assert client.get(credits_url(owner.slug, "checkout/success?session_id=cs_else")).status_code == 404


def test_credits_page_in_chinese(client, owner):
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    page = client.get(credits_url(owner.slug)).get_data(as_text=True)
    assert "使用兑换码" in page and "账本" in page and "进行中预占" in page


def test_a_codes_staff_note_never_reaches_the_customer(client, owner):
    for code in (new_code("1.00", note="internal: ACME deal 77"),
                 new_code("2.00", note="webinar list B", description="Webinar credits")):
        assert client.submit(credits_url(owner.slug, "redeem"), {"code": code}).status_code in (200, 303)
    page = client.get(credits_url(owner.slug)).get_data(as_text=True)
    exported = client.get(credits_url(owner.slug, "ledger.csv")).get_data(as_text=True)
    for shown in (page, exported):
        assert "Webinar credits" in shown
        assert "ACME" not in shown and "webinar list B" not in shown


def test_without_stripe_the_page_says_how_to_get_credits_and_promises_no_card(app, client, owner):
    app.config["CREDITS_CONTACT"] = "Write to billing@acme-gw.example for a code or an invoice."
    page = client.get(credits_url(owner.slug)).get_data(as_text=True)
    assert "How to get credits" in page and "billing@acme-gw.example" in page
    assert "by card" not in page.lower() and page.count(credits_url(owner.slug, "ledger.csv")) == 1
    for docs in ("/docs", "/docs/billing"):
        text = client.get(docs).get_data(as_text=True)
        assert "by card" not in text and "takes no card payments" in text and "billing@acme-gw.example" in text


def test_with_stripe_the_card_form_is_offered(stripe_app, client, owner):
    stripe_app.config["CREDITS_CONTACT"] = "ask ops"
    page = client.get(credits_url(owner.slug)).get_data(as_text=True)
    assert "Pay by card" in page and "How to get credits" not in page
    assert "by card" in client.get("/docs/billing").get_data(as_text=True)


@pytest.mark.parametrize("typed,micro", [("1,000", 1_000_000_000), ("¥12,500.50", 12_500_500_000), ("1，000", 1_000_000_000)])
def test_card_top_up_takes_thousands_separators(stripe_app, client, owner, fake_stripe, typed, micro):  # noqa: F811
    response = client.submit(credits_url(owner.slug, "checkout"), {"amount": typed})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert db.session.query(Payment).one().amount_micro == micro


def test_card_top_up_refuses_an_ambiguous_comma(stripe_app, client, owner):
    bad = client.submit(credits_url(owner.slug, "checkout"), {"amount": "1,00"})
    assert bad.status_code == 422 and "Enter an amount such as 50, 1,000 or 12.50." in bad.get_data(as_text=True)
