"""The dashboard: balance, spend, today's traffic, and a first request that would really work."""
from datetime import timedelta
from html import unescape

from ethergate.billing import ledger
from ethergate.extensions import db
from ethergate.timeutil import utcnow
from ethergate.usage.models import RequestLog


def log(workspace, status=200, when=None):
    db.session.add(RequestLog(request_id="req_test", workspace_id=workspace.id, method="POST",
                              path="/v1/chat/completions", status_code=status, created_at=when or utcnow()))
    db.session.commit()


def test_dashboard_shows_balance_base_url_and_snippet_with_a_real_model(client, owner):
    page = client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    assert '<span class="stat-value" id="balance">¥10.00</span>' in page
    assert "http://127.0.0.1:8000/v1" in page
    from ethergate.catalog.snapshot import get_snapshot
    assert "deepseek/deepseek-v4-flash" in get_snapshot().models
    text = unescape(page)
    assert 'model="deepseek/deepseek-v4-flash"' in text          # Python
    assert 'model: "deepseek/deepseek-v4-flash"' in text         # Node
    assert '"model": "deepseek/deepseek-v4-flash"' in text       # curl
    assert 'id="low-balance"' not in page


def test_base_url_follows_public_base_url(app, client, owner):
    app.config["PUBLIC_BASE_URL"] = "https://api.example.cn"
    page = unescape(client.get(f"/console/w/{owner.slug}/").get_data(as_text=True))
    assert "https://api.example.cn/v1/chat/completions" in page and 'base_url="https://api.example.cn/v1"' in page


def test_spend_and_traffic(client, owner, factories):
    ledger.post_entry(owner.workspace.id, -2_345_000, "usage", note="test")
    log(owner.workspace, 200)
    log(owner.workspace, 200)
    log(owner.workspace, 429)
    log(owner.workspace, 200, when=utcnow() - timedelta(days=2))  # not today
    log(factories.workspace(), 500)                                # someone else's
    page = client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    assert '<span class="stat-value">¥2.345</span>' in page
    assert '<span class="stat-value" id="balance">¥7.655</span>' in page
    requests_card = page.split("Requests today")[1][:120]
    errors_card = page.split("Errors today")[1][:120]
    assert '<span class="stat-value">3</span>' in requests_card
    assert '<span class="stat-value">1</span>' in errors_card


def test_low_balance_banner(client, owner):
    ledger.post_entry(owner.workspace.id, -9_500_000, "adjustment", note="test")
    page = client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    assert 'id="low-balance"' in page and "¥0.50" in page and "¥1.00" in page
    owner.workspace.low_balance_micro = 100_000
    db.session.commit()
    assert 'id="low-balance"' not in client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)


def test_every_member_sees_the_dashboard(client, auth, factories, join):
    workspace = factories.workspace(credits="3.00")
    member = join(workspace, "member")
    auth.login(member.email)
    page = client.get(f"/console/w/{workspace.slug}/").get_data(as_text=True)
    assert "¥3.00" in page
