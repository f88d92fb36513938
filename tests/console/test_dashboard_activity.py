"""The dashboard after onboarding: once the workspace has traffic it leads with today, this month, a 24-hour chart,
recent requests and errors and the balance's runway; the first-request guide moves into a closed disclosure."""
from __future__ import annotations

import re
from html import unescape

import pytest

from tests.conftest import PROVIDER_KEYS

MODEL = "deepseek/deepseek-v4-flash"


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def traffic(app, client, owner, factories, fake_upstream):
    """Two requests through the real /v1 pipeline (one billed, one refused with 400) with a key of the owner's."""
    from ethergate.usage.models import RequestLog

    app.config["PROVIDER_KEYS"] = dict(PROVIDER_KEYS)
    app.config["PROVIDER_BASE_URLS"] = {p: fake_upstream.base_url(p) for p in PROVIDER_KEYS}
    issued = factories.key(owner.workspace)
    headers = {"Authorization": f"Bearer {issued.plaintext}"}
    ok = client.post("/v1/chat/completions", headers=headers,
                     json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    bad = client.post("/v1/chat/completions", headers=headers,
                      json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "temperature": 9})
    assert ok.status_code == 200 and bad.status_code == 400
    from ethergate.extensions import db
    rows = {row.request_id: row for row in db.session.query(RequestLog).filter_by(workspace_id=owner.workspace.id)}
    db.session.commit()
    return rows[ok.headers["X-Request-Id"]], rows[bad.headers["X-Request-Id"]]


def test_a_new_workspace_leads_with_onboarding(client, owner):
    page = client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    assert "Send your first request" in page and 'id="onboarding"' not in page and "Recent requests" not in page


def test_with_traffic_the_dashboard_leads_with_activity(client, owner, traffic):
    from ethergate.billing.ledger import account_state

    billed, refused = traffic
    page = client.get(f"/console/w/{owner.slug}/").get_data(as_text=True)
    text = text_of(page)
    assert page.index('id="activity-stats"') < page.index('id="onboarding"')  # onboarding moved below, closed
    assert '<details class="card onboarding-aside" id="onboarding">' in page
    spend = text_of(page.split('id="spend-today">')[1].split("</span>")[0]).strip()
    assert billed.cost_micro > 0 and "¥" in spend and spend != "¥0.00"  # "<¥0.0001" for a few micro-units
    assert text_of(page.split('id="requests-month">')[1].split("</span>")[0]).strip() == "2"
    recent = page.split('id="recent-requests"')[1].split("</ul>")[0]
    assert f'/usage/requests/{billed.request_id}"' in recent and f'/usage/requests/{refused.request_id}"' in recent
    errors = page.split('id="recent-errors"')[1].split("</ul>")[0]
    assert refused.request_id in errors and billed.request_id not in errors and "400" in errors
    assert 'data-series="succeeded"' in page and 'data-series="failed"' in page and 'data-series="spend"' in page
    assert "Requests, last 24 hours" in text and "Spend, last 24 hours" in text

    balance, held = account_state(owner.workspace.id)
    assert (balance - held) / (billed.cost_micro // 7) > 365  # a tiny test request: ten yuan last for years
    runway = text_of(page.split('id="runway">')[1].split("</span>")[0]).strip()
    assert runway == "over a year" and "7-day average" in text


@pytest.mark.parametrize("available, per_day, expected", [(70_000_000, 7_000_000, 10.0), (5, 0, None),
                                                         (-3_000_000, 1_000_000, 0.0)])
def test_runway_is_the_available_balance_over_the_daily_burn(available, per_day, expected):
    from ethergate.console.dashboard_activity import runway_days
    assert runway_days(available, per_day) == expected




def test_the_activity_dashboard_in_chinese(client, owner, traffic):
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    text = text_of(client.get(f"/console/w/{owner.slug}/").get_data(as_text=True))
    for expected in ("今日花费", "本月请求数", "可用天数", "最近的请求", "最近的错误", "最近 24 小时请求数"):
        assert expected in text, expected
