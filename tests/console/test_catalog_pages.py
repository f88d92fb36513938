"""The public catalog: the model list with its filters, a model's page, and signals from routed traffic."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from html import unescape

import pytest
from sqlalchemy import text

from ethergate.usage import route_signals as signals_module
from ethergate.usage.route_signals import compute_signals, percentile
from ethergate.extensions import db
from ethergate.timeutil import utcnow
from ethergate.usage.models import RequestLog

MODEL = "qwen/qwen-plus"
ROUTES = ["qwen/qwen-plus", "qwen/qwen-plus-latest"]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(autouse=True)
def fresh_signals():
    signals_module.clear_cache()
    yield
    signals_module.clear_cache()


@pytest.fixture
def configured(app):
    app.config["PROVIDER_KEYS"] = {"deepseek": "sk-d", "qwen": "sk-q", "moonshot": ""}
    return app


def add(workspace, when: datetime, status: int = 200, model: str = MODEL, **fields) -> None:
    db.session.add(RequestLog(request_id="r", workspace_id=workspace.id, method="POST", path="/v1/chat/completions",
                              model_id=model, status_code=status, created_at=when, **fields))
    db.session.commit()


def traffic_now(now: datetime) -> datetime:
    """`now`, unless the traffic seconds before it would cross midnight: then a minute before midnight."""
    midnight = datetime.combine(now.date(), time.min)
    return midnight - timedelta(minutes=1) if now - midnight < timedelta(minutes=1) else now


def test_traffic_stays_on_one_day_right_after_midnight():
    assert traffic_now(datetime(2026, 1, 2, 0, 0, 3)) == datetime(2026, 1, 1, 23, 59)
    assert traffic_now(datetime(2026, 1, 2, 0, 1, 0)) == datetime(2026, 1, 2, 0, 1, 0)


@pytest.fixture
def routed(factories):
    """Traffic for qwen/qwen-plus in two workspaces, plus rows the signals must ignore."""
    a, b = factories.workspace(name="A"), factories.workspace(name="B")
    now = traffic_now(utcnow())
    failover = [{"provider": "qwen", "upstream_model": "qwen-plus", "status": 503, "latency_ms": 40},
                {"provider": "qwen", "upstream_model": "qwen-plus-latest", "status": 200, "latency_ms": 90}]
    for latency in (100, 200, 300):
        add(a, now - timedelta(seconds=latency), provider="qwen", upstream_model="qwen-plus", latency_ms=latency,
            prompt_tokens=10, completion_tokens=5)
    add(a, now - timedelta(seconds=5), provider="qwen", upstream_model="qwen-plus-latest", latency_ms=400,
        attempts=failover, prompt_tokens=10, completion_tokens=5)
    add(b, now - timedelta(seconds=1), provider="qwen", upstream_model="qwen-plus", stream=True, latency_ms=1000,
        ttft_ms=200, prompt_tokens=20, completion_tokens=80)
    add(b, now - timedelta(seconds=2), provider="deepseek", upstream_model="x", stream=True, latency_ms=2000,
        ttft_ms=400, prompt_tokens=20, completion_tokens=320)
    add(b, now - timedelta(seconds=3), provider="qwen", upstream_model="qwen-plus", stream=True, latency_ms=900,
        ttft_ms=880, completion_tokens=3)                                      # 20 ms of generation: no rate
    add(b, now - timedelta(seconds=4), provider="qwen", upstream_model="qwen-plus", stream=True, latency_ms=900,
        ttft_ms=100, completion_tokens=50, estimated=True)                     # estimated usage: no rate
    add(b, now - timedelta(seconds=6), status=502, provider="qwen",
        attempts=[{"provider": "qwen", "upstream_model": "qwen-plus", "status": 500, "latency_ms": 30},
                  {"provider": "qwen", "upstream_model": "qwen-plus-latest", "latency_ms": 5000}])
    add(a, now - timedelta(days=1), status=429)                                 # a refusal, not an outage
    add(a, now - timedelta(days=8), prompt_tokens=1_000_000)                    # outside the window
    add(a, now - timedelta(seconds=1), model="deepseek/deepseek-v4-flash", prompt_tokens=777)
    return now


def test_percentile_interpolates_like_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.95) == 7
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([100, 200, 300, 400, 900, 900, 1000, 2000], 0.95) == pytest.approx(1650)


def test_signals_from_routed_traffic(app, routed):
    signals = compute_signals(MODEL, ROUTES, now=routed)
    assert signals.requests == 10
    assert signals.weekly_tokens == 4 * 15 + 100 + 340 + 3 + 50
    routes = {r.route: (r.attempts, r.successes) for r in signals.routes}
    # Rows without an attempts list count once for the route that served them.
    assert routes["qwen/qwen-plus"] == (3 + 1 + 1 + 2 + 1, 3 + 1 + 2)
    assert routes["qwen/qwen-plus-latest"] == (2, 1)
    assert routes["deepseek/x"] == (1, 1)
    assert [(p.provider, p.requests) for p in signals.providers] == [("qwen", 7), ("deepseek", 1)]
    assert signals.latency_samples == 8
    assert signals.latency_p50 == pytest.approx(650)
    assert signals.ttft_samples == 4 and signals.ttft_p50 == pytest.approx(300)
    assert signals.throughput_samples == 2 and signals.throughput_p50 == pytest.approx(150)
    today, yesterday = signals.days[-1], signals.days[-2]
    assert (today.requests, today.available) == (9, 8) and today.uptime == pytest.approx(8 / 9)
    assert (yesterday.requests, yesterday.available) == (1, 1)
    assert len(signals.days) == 7 and signals.days[0].uptime is None


@pytest.mark.postgresql_only  # percentile_cont exists on PostgreSQL only
def test_percentiles_match_postgresql(app, routed, engine):
    signals = compute_signals(MODEL, ROUTES, now=routed)
    sql = text("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), "
               "percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FROM request_logs "
               "WHERE model_id = :model AND status_code < 400 AND latency_ms IS NOT NULL")
    p50, p95 = db.session.execute(sql, {"model": MODEL}).one()
    db.session.commit()
    assert signals.latency_p50 == pytest.approx(p50) and signals.latency_p95 == pytest.approx(p95)


def test_model_list_shows_prices_readiness_and_capabilities(client, configured):
    page = client.get("/models").get_data(as_text=True)
    assert page.count("<tr data-model-id=") == 12
    row = page.split('<tr data-model-id="qwen/qwen-plus">')[1].split("</tr>")[0]
    assert "Qwen Plus" in row and "¥0.80" in row and "¥0.16" in row and "¥2.00" in row
    assert "Ready" in row and "Tool calling" in row and "tiered prices" in row
    kimi = page.split('<tr data-model-id="moonshot/kimi-k2.6">')[1].split("</tr>")[0]
    assert "Not ready" in kimi
    assert "Prices per million tokens, in CNY" in page


def test_model_list_filters_with_and_without_htmx(client):
    plain = client.get("/models?q=qwen+max&provider=&capability=").get_data(as_text=True)
    assert plain.startswith("<!doctype html>")
    assert set(re.findall(r'<tr data-model-id="([^"]+)"', plain)) == {"qwen/qwen3.7-max", "qwen/qwen3.8-max"}
    response = client.htmx_get("/models?provider=moonshot&capability=vision", target="model_list")
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="model_list"') and "<html" not in fragment
    assert "HX-Request" in response.headers["Vary"]
    ids = re.findall(r'<tr data-model-id="([^"]+)"', fragment)
    assert ids and all(model_id.startswith("moonshot/") for model_id in ids)
    assert "No model matches" in client.get("/models?q=nothing-like-this").get_data(as_text=True)


def test_model_page_facts_pricing_and_signals(client, configured, routed):
    page = client.get(f"/models/{MODEL}").get_data(as_text=True)
    text = text_of(page)
    for expected in ("Qwen Plus", "1,000,000 tokens", "32,768 tokens", "Prompts up to 131,072 tokens",
                     "Prompts over 262,144 tokens", "¥48.00", "qwen/qwen-plus-latest", "Benchmarks from routed traffic",
                     "Weekly tokens", "Route health", "Provider mix", "Throughput p50", "150 tokens/s",
                     "not vendor-certified benchmark scores", "Daily uptime"):
        assert expected in text, expected
    assert 'id="weekly-tokens">553</span>' in page
    assert 'data-series="uptime" data-point="' in page and 'role="img"' in page
    assert 'model="qwen/qwen-plus"' in unescape(page)     # the sample request uses this model


def test_model_page_pricing_windows(client):
    page = text_of(client.get("/models/deepseek/deepseek-v4-flash").get_data(as_text=True))
    assert "Standard" in page and "peak, 09:00–12:00 Asia/Shanghai" in page and "¥8.00" in page
    assert "Mon–Fri, except public holidays, and on make-up working days (China public holidays" in page


def test_aliases_redirect_and_unknown_models_are_404(client):
    response = client.get("/models/deepseek/deepseek-reasoner")
    assert response.status_code == 301 and response.headers["Location"].endswith("/models/deepseek/deepseek-v4-flash")
    assert client.get("/models/openai/gpt-4o").status_code == 404


def test_not_ready_model_says_why(client):
    page = client.get("/models/moonshot/kimi-k2.6").get_data(as_text=True)
    assert "503 model_not_ready" in page and "Not ready" in page


def test_catalog_in_chinese(client, configured):
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    page = client.get("/models").get_data(as_text=True)
    assert "模型" in page and "就绪" in page and "工具调用" in page
    detail = client.get(f"/models/{MODEL}").get_data(as_text=True)
    assert "路由健康度" in detail and "不是厂商认证的评测分数" in detail


# Monday 2026-12-07: 02:30 UTC is 10:30 in Shanghai (DeepSeek's peak), 12:30 UTC is 20:30 (off-peak).
@pytest.mark.parametrize("hour,price,note", [
    (2, "¥2.00", "peak price now, 09:00–12:00 Asia/Shanghai"),
    (12, "¥1.00", "standard price now; higher in 09:00–12:00, 14:00–18:00 Asia/Shanghai")])
def test_model_list_shows_the_price_that_applies_now_with_its_window(client, monkeypatch, hour, price, note):
    from ethergate.console import catalog as catalog_page
    monkeypatch.setattr(catalog_page, "utcnow", lambda: datetime(2026, 12, 7, hour, 30))
    page = client.get("/models").get_data(as_text=True)
    row = unescape(page.split('<tr data-model-id="deepseek/deepseek-v4-flash">')[1].split("</tr>")[0])
    cells = re.findall(r'<td class="num" data-label="Input">([^<]+)</td>', row)
    assert cells == [price] and note in row
    assert "as they apply now (2026-12-07 %02d:30 UTC)" % hour in unescape(page)
