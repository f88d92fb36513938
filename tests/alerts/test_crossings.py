"""Low balance and key spend caps: owners are emailed once per crossing, and re-armed when the value goes back."""
from __future__ import annotations

from datetime import timedelta

from ethergate.alerts.checks import check_crossings
from ethergate.alerts.models import AlertState
from ethergate.billing import ledger
from ethergate.extensions import db
from ethergate.billing.models import KeySpend
from ethergate.money import MICRO
from ethergate.timeutil import month_key, utcnow


def spend(workspace, amount_micro):
    ledger.post_entry(workspace.id, -amount_micro, "adjustment", note="test spend", actor_label="test")


def test_low_balance_emails_owners_once_per_crossing(factories, smtp_server):
    owner = factories.user("owner@example.com")
    workspace = factories.workspace(owner=owner, name="Acme", credits="5.00")
    assert check_crossings() == []
    spend(workspace, int(4.5 * MICRO))
    [told] = check_crossings()
    assert told.event == "balance.low" and told.data["available_micro"] == MICRO // 2
    message = smtp_server.wait_for("owner@example.com")
    assert message.subject == "Acme: balance below ¥1.00 on EtherGate"
    assert "¥0.50" in message.body and f"/console/w/{workspace.slug}/credits/" in message.body
    spend(workspace, MICRO // 10)
    assert check_crossings() == [] and len(smtp_server.messages) == 1  # still below: not told again
    ledger.post_entry(workspace.id, 2 * MICRO, "grant", note="top up", actor_label="test")
    assert check_crossings() == [] and db.session.scalars(db.select(AlertState)).all() == []  # re-armed
    spend(workspace, 2 * MICRO)
    assert len(check_crossings()) == 1
    smtp_server.wait_for("owner@example.com", count=2)


def test_a_workspace_that_never_had_credit_is_not_told(factories, smtp_server):
    factories.workspace(owner=factories.user("new@example.com"))
    assert check_crossings() == [] and smtp_server.messages == []


def test_members_are_not_emailed_and_zero_turns_the_warning_off(factories, smtp_server):
    from ethergate.accounts.models import Membership
    workspace = factories.workspace(owner=factories.user("boss@example.com"), credits="0.50")
    db.session.add(Membership(user_id=factories.user("dev@example.com").id, workspace_id=workspace.id, role="member"))
    db.session.commit()
    quiet = factories.workspace(owner=factories.user("quiet@example.com"), credits="0.10")
    quiet.low_balance_micro = 0
    db.session.commit()
    told = check_crossings()
    assert [crossing.workspace_id for crossing in told] == [workspace.id]
    smtp_server.wait_for("boss@example.com")
    assert all("dev@example.com" not in m.recipients and "quiet@example.com" not in m.recipients
               for m in smtp_server.messages)


def test_key_spend_warns_at_80_and_100_percent_once_each(factories, smtp_server):
    owner = factories.user("keys@example.com")
    owner.locale = "zh-CN"
    workspace = factories.workspace(owner=owner, name="Acme", credits="100.00")
    key = factories.key(workspace, name="batch", monthly_spend_cap_micro=10 * MICRO).key
    now = utcnow()
    row = KeySpend(api_key_id=key.id, month=month_key(now), spent_micro=7 * MICRO, held_micro=0)
    db.session.add(row)
    db.session.commit()
    assert check_crossings(now) == []
    row.spent_micro = 8 * MICRO
    db.session.commit()
    [warning] = check_crossings(now)
    assert (warning.event, warning.level) == ("key.spend_cap_warning", 80)
    assert "密钥 batch 已用掉每月消费上限的 80%" in smtp_server.wait_for("keys@example.com").subject  # owner speaks zh
    assert check_crossings(now) == []
    row.spent_micro = 10 * MICRO
    db.session.commit()
    [reached] = check_crossings(now)
    assert (reached.event, reached.level) == ("key.spend_cap_reached", 100)
    message = smtp_server.wait_for("keys@example.com", count=2)
    assert "batch" in message.subject and f"/keys/{key.id}" in message.body
    assert check_crossings(now) == []
    next_month = (now.replace(day=1) + timedelta(days=32)).replace(day=1)
    assert check_crossings(next_month) == [] and db.session.scalars(db.select(AlertState)).all() == []


def test_raising_the_cap_rearms_the_full_cap_alert(factories, smtp_server):
    workspace = factories.workspace(owner=factories.user("cap@example.com"), credits="100.00")
    key = factories.key(workspace, monthly_spend_cap_micro=10 * MICRO).key
    now = utcnow()
    db.session.add(KeySpend(api_key_id=key.id, month=month_key(now), spent_micro=10 * MICRO, held_micro=0))
    db.session.commit()
    assert [c.level for c in check_crossings(now)] == [100]
    key.monthly_spend_cap_micro = 12 * MICRO
    db.session.commit()
    assert check_crossings(now) == []  # 83 %: lowered to the warning level, told already
    assert db.session.scalars(db.select(AlertState.level)).all() == [80]
    key.monthly_spend_cap_micro = 10 * MICRO
    db.session.commit()
    assert [c.level for c in check_crossings(now)] == [100]
    smtp_server.wait_for("cap@example.com", count=2)
