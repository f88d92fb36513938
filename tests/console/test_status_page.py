"""The public status page: health from our own request log, degraded below a threshold, incident notes, no internals.

The same report as JSON at /status: public fields for everyone, internals only for operators (loopback,
the metrics token, staff). Runs on both engines: the hourly buckets are engine-specific SQL.
"""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from ethergate.gateway.runtime import runtime
from ethergate.settings import ConfigError, parse_thresholds
from tests.support.conftest import make_staff

ALL_KEYS = {"deepseek": "sk-d", "qwen": "sk-q", "moonshot": "sk-m"}
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}
INTERNALS = ("sqlite", "postgresql", "ETHERGATE_", "memory, per server process", "Rate limiter", "Database",
             "ConnectTimeout to 10.0.0.7")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def log_requests(provider: str, model: str, ok: int = 0, failed: int = 0, client_errors: int = 0,
                 minutes_ago: float = 5, latency_ms: int = 200) -> None:
    """Request-log rows as the pipeline writes them: routed to `provider`, some failed with the raw error kept."""
    from ethergate.extensions import db
    from ethergate.timeutil import utcnow
    from ethergate.usage.models import RequestLog

    at = utcnow() - timedelta(minutes=minutes_ago)
    rows = [(200, None, None)] * ok + [(502, "provider_request_failed", "ConnectTimeout to 10.0.0.7")] * failed
    rows += [(400, "invalid_request_error", "bad temperature")] * client_errors
    for n, (status, code, message) in enumerate(rows):
        db.session.add(RequestLog(request_id=f"req_{provider}_{minutes_ago}_{n}", method="POST",
                                  path="/v1/chat/completions", model_id=model, provider=provider,
                                  upstream_model=model.split("/")[-1], status_code=status, error_code=code,
                                  error_message=message, latency_ms=latency_ms, created_at=at))
    db.session.commit()


def fresh(app) -> None:
    app.extensions.pop("ethergate.service_health", None)


def provider_block(page: str, provider: str) -> str:
    return page.split(f'data-provider="{provider}"')[1].split("</li>\n      {% ")[0].split('data-provider="')[0]


def test_status_page_without_provider_keys_shows_no_setting_names(client):
    response = client.get("/status/page")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    text = text_of(response.get_data(as_text=True))
    assert "Operational, some models unavailable" in text and "0 of 12 models ready" in text
    assert "All systems operational" not in text and "does not offer Qwen" in text
    assert not [word for word in INTERNALS if word in text]


def test_success_rate_and_latency_come_from_the_request_log(app, client):
    app.config["PROVIDER_KEYS"] = ALL_KEYS
    log_requests("deepseek", "deepseek/deepseek-v4-flash", ok=30, latency_ms=300)
    log_requests("deepseek", "deepseek/deepseek-v4-flash", ok=10, latency_ms=100, minutes_ago=60 * 30)  # 30 h ago
    log_requests("deepseek", "deepseek/deepseek-v4-flash", client_errors=50)  # the caller's mistakes count nowhere
    page = client.get("/status/page").get_data(as_text=True)
    text = text_of(page)
    assert "All systems operational" in text and "12 of 12 models ready" in text
    deepseek = text_of(provider_block(page, "deepseek"))
    assert "Operational" in deepseek and "24 h: 100% · 300 ms" in deepseek and "7 d: 100% · 250 ms" in deepseek
    row = text_of(page.split('<tr data-model-id="deepseek/deepseek-v4-flash">')[1].split("</tr>")[0])
    assert "100% 300 ms 100% 40" in row
    assert page.count('class="bar ok"') == 1  # one hour with traffic in the last 24
    assert not [word for word in INTERNALS if word in text]


def test_a_provider_below_its_threshold_is_degraded_and_the_page_says_so(app, client):
    app.config["PROVIDER_KEYS"] = ALL_KEYS
    log_requests("qwen", "qwen/qwen-plus", ok=20, failed=10)
    log_requests("deepseek", "deepseek/deepseek-v4-flash", ok=40)
    page = client.get("/status/page").get_data(as_text=True)
    text = text_of(page)
    assert "All systems operational" not in text and "Degraded performance" in text
    assert 'data-provider="qwen" data-state="degraded"' in page
    assert 'data-provider="deepseek" data-state="operational"' in page
    assert "24 h: 66.7%" in text_of(provider_block(page, "qwen")) and 'class="bar warn"' in page
    assert "ConnectTimeout" not in page  # the raw provider error stays in the request log

    app.config["STATUS_DEGRADED_BELOW"] = {"*": 0.95, "qwen": 0.6}  # ETHERGATE_STATUS_DEGRADED_BELOW=0.95,qwen=0.6
    fresh(app)
    assert "All systems operational" in text_of(client.get("/status/page").get_data(as_text=True))


def test_too_few_requests_do_not_make_a_provider_degraded(app, client):
    app.config["PROVIDER_KEYS"] = ALL_KEYS
    log_requests("qwen", "qwen/qwen-plus", failed=3)
    assert client.get("/status").json["providers"]["qwen"]["state"] == "operational"
    app.config["STATUS_MIN_REQUESTS"] = 3
    fresh(app)
    assert client.get("/status").json["providers"]["qwen"]["state"] == "degraded"


def test_failures_outside_the_window_do_not_make_a_provider_degraded(app, client):
    app.config["PROVIDER_KEYS"] = ALL_KEYS
    log_requests("qwen", "qwen/qwen-plus", failed=30, minutes_ago=90)
    status = client.get("/status").json
    qwen = status["providers"]["qwen"]
    assert qwen["state"] == "operational" and qwen["last_24h"]["success_rate"] == 0.0
    assert qwen["recent"] == {"requests": 0, "failures": 0, "success_rate": None, "latency_ms_avg": None,
                              "window_minutes": 60}
    assert sum(hour["failures"] for hour in qwen["hourly"]) == 30 and len(qwen["hourly"]) == 24


def test_a_paused_route_makes_its_provider_degraded_without_showing_the_error(app, client):
    app.config["PROVIDER_KEYS"] = ALL_KEYS
    board = runtime(app)[1]
    for _ in range(5):
        board.record("moonshot", "kimi-k2.6", False, 50, error="ConnectTimeout to 10.0.0.7")
    page = client.get("/status/page").get_data(as_text=True)
    assert 'data-provider="moonshot" data-state="degraded"' in page and "ConnectTimeout" not in page


def test_the_json_is_public_without_internals_and_complete_for_operators(app, client):
    app.config["PROVIDER_KEYS"] = ALL_KEYS
    app.config["METRICS_TOKEN"] = "metrics-secret"
    log_requests("qwen", "qwen/qwen-plus", ok=3)
    public = client.get("/status", environ_base=REMOTE)
    assert public.status_code == 200 and public.headers["Cache-Control"] == "no-store"
    body = public.json
    assert body["detail"] == "public" and body["status"] == "ok"
    assert body["database"] == {"reachable": True} and body["rate_limiter"] == {"healthy": True}
    qwen = body["providers"]["qwen"]
    assert set(qwen) == {"name", "configured", "state", "degraded_below", "recent", "last_24h", "last_7d", "hourly"}
    assert qwen["last_24h"] == {"requests": 3, "failures": 0, "success_rate": 1.0, "latency_ms_avg": 200}
    plus = next(m for m in body["models"] if m["id"] == "qwen/qwen-plus")
    assert set(plus) == {"id", "ready", "recent", "last_24h", "last_7d"}
    assert body["incidents"] == []

    forwarded = client.get("/status", headers={"X-Forwarded-For": "203.0.113.9"}).json  # a proxy on this host
    assert forwarded["detail"] == "public"
    with_token = client.get("/status", environ_base=REMOTE, headers={"Authorization": "Bearer metrics-secret"}).json
    assert with_token["detail"] == "operator" and with_token["database"]["engine"] in ("sqlite", "postgresql")
    assert with_token["rate_limiter"]["backend"] == "memory" and "open_circuits" in with_token["providers"]["qwen"]


def test_staff_open_and_resolve_incidents_that_the_public_page_shows(app, client, auth):
    from ethergate.accounts.models import AuditEvent
    from ethergate.extensions import db

    app.config["PROVIDER_KEYS"] = ALL_KEYS
    staff = make_staff()
    auth.login(staff.email)
    operator = client.get("/support/status").get_data(as_text=True)
    assert "Engine" in operator and "memory, per server process" in operator
    response = client.submit("/support/incidents", {"title": "Qwen answers slowly", "body": "We are on it.",
                                                     "provider": "qwen"}, page="/support/status")
    assert response.status_code == 303
    auth.logout()
    assert client.get("/status", environ_base=REMOTE).json["status"] == "degraded"

    text = text_of(client.get("/status/page").get_data(as_text=True))
    assert "Incident in progress" in text and "All systems operational" not in text
    assert "Qwen answers slowly Ongoing Qwen" in text and "We are on it." in text and "UTC" in text

    assert auth.login(staff.email).status_code == 303
    incident_id = client.get("/status").json["incidents"][0]["id"]
    resolved = client.submit(f"/support/incidents/{incident_id}/resolve", {"resolution": "Upstream fixed."},
                             page="/support/status")
    assert resolved.status_code == 303
    again = client.submit(f"/support/incidents/{incident_id}/resolve", {"resolution": "twice"}, page="/support/status",
                          follow_redirects=True)
    assert "already resolved" in again.get_data(as_text=True)
    auth.logout()
    text = text_of(client.get("/status/page").get_data(as_text=True))
    assert "All systems operational" in text and "Qwen answers slowly Resolved" in text and "Upstream fixed." in text
    actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]
    assert actions[-2:] == ["incident.opened", "incident.resolved"]


def test_incident_form_errors_and_non_staff(client, auth, owner):
    assert client.get("/support/status").status_code == 404
    assert client.submit("/support/incidents", {"title": "x"}).status_code == 404
    auth.logout()
    staff = make_staff()
    auth.login(staff.email)
    response = client.submit("/support/incidents", {"title": " ", "provider": "openai"}, page="/support/status")
    assert response.status_code == 422
    assert "Give the incident a title." in response.get_data(as_text=True)


def test_the_board_refreshes_itself_as_a_fragment(client):
    page = client.get("/status/page").get_data(as_text=True)
    assert 'hx-trigger="every 30s"' in page
    fragment = client.htmx_get("/status/page", target="status_board").get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="status_board"') and "<html" not in fragment


def test_the_header_links_to_the_page_and_json_stays(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/status/page"' in page and 'href="/status"' not in page.split("</header>")[0]
    assert client.get("/status").is_json
    assert 'href="/status"' in client.get("/status/page").get_data(as_text=True)  # the monitors' link


def test_status_page_in_chinese(app, client):
    app.config["PROVIDER_KEYS"] = ALL_KEYS
    log_requests("qwen", "qwen/qwen-plus", ok=20, failed=10)
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    page = client.get("/status/page").get_data(as_text=True)
    assert "性能下降" in page and "服务商" in page and "24 小时成功率" in page and "24 小时前" in page


@pytest.mark.parametrize("raw, expected", [("0.95", {"*": 0.95}), ("0.9,qwen=0.8", {"*": 0.9, "qwen": 0.8}),
                                           ("deepseek=0.99", {"*": 0.95, "deepseek": 0.99})])
def test_thresholds_parse(raw, expected):
    assert parse_thresholds("ETHERGATE_STATUS_DEGRADED_BELOW", raw) == expected


@pytest.mark.parametrize("raw", ["1.5", "0", "high", "openai=0.9"])
def test_bad_thresholds_are_refused(raw):
    with pytest.raises(ConfigError, match="ETHERGATE_STATUS_DEGRADED_BELOW"):
        parse_thresholds("ETHERGATE_STATUS_DEGRADED_BELOW", raw)
