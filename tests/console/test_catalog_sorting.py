"""The public model list sorts by price now (window prices included), context and latency, either way;
latency is one aggregate query over routed traffic, so it runs on both engines."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from ethergate.usage import route_signals as signals_module
from ethergate.catalog.snapshot import get_snapshot
from ethergate.console.catalog import model_row
from ethergate.extensions import db
from ethergate.timeutil import utcnow
from ethergate.usage.models import RequestLog
from tests.console.conftest import client  # noqa: F401  (fixture)

pytestmark = pytest.mark.both_engines  # the latency sort is SQL that differs between the engines


@pytest.fixture(autouse=True)
def fresh_signals():
    signals_module.clear_cache()
    yield
    signals_module.clear_cache()


def order(html: str) -> list[str]:
    return re.findall(r'<tr data-model-id="([^"]+)"', html)


def log(workspace, model: str, latency_ms: int | None, status: int = 200, days_ago: int = 0) -> None:
    db.session.add(RequestLog(request_id="r", workspace_id=workspace.id, method="POST", path="/v1/chat/completions",
                              model_id=model, status_code=status, latency_ms=latency_ms,
                              created_at=utcnow() - timedelta(days=days_ago, minutes=1)))
    db.session.commit()


def test_default_is_by_id_and_context_sorts_biggest_first(client):
    ids = sorted(get_snapshot().models)
    assert order(client.get("/models").get_data(as_text=True)) == ids
    contexts = {m.id: m.context_window for m in get_snapshot().models.values()}
    page = client.get("/models?sort=-context").get_data(as_text=True)
    shown = order(page)
    assert [contexts[i] for i in shown] == sorted(contexts.values(), reverse=True)
    assert 'aria-sort="descending"' in page and "sort=context" in page  # the header flips it
    assert [contexts[i] for i in order(client.get("/models?sort=context").get_data(as_text=True))] == \
        sorted(contexts.values())


@pytest.mark.parametrize("hour", [2, 12])
def test_price_sort_uses_the_price_that_applies_now(client, app, monkeypatch, hour):
    from ethergate.console import catalog as catalog_page
    at = datetime(2026, 12, 7, hour, 30)
    monkeypatch.setattr(catalog_page, "utcnow", lambda: at)
    snapshot = get_snapshot()
    with app.test_request_context():
        now = {m.id: model_row(m, snapshot, at).price_now for m in snapshot.models.values()}
    priced = sorted((i for i in now if now[i] is not None), key=lambda i: (now[i], i))
    unpriced = sorted(i for i in now if now[i] is None)
    assert order(client.get("/models?sort=price").get_data(as_text=True)) == priced + unpriced
    dearest = order(client.get("/models?sort=-price").get_data(as_text=True))
    assert [now[i] for i in dearest[:len(priced)]] == sorted((now[i] for i in priced), reverse=True)
    flash = model_row(snapshot.models["deepseek/deepseek-v4-flash"], snapshot, at)
    assert (flash.window_now is not None) == (hour == 2)  # 01:00–04:00 is the peak window


def test_latency_sort_uses_successful_recent_traffic_and_puts_unknown_last(client, factories):
    workspace = factories.workspace()
    log(workspace, "qwen/qwen-plus", 300)
    log(workspace, "qwen/qwen-plus", 500)
    log(workspace, "deepseek/deepseek-v4-flash", 900)
    log(workspace, "deepseek/deepseek-v4-flash", 10, status=502)            # failures do not count
    log(workspace, "deepseek/deepseek-v4-flash", 10, days_ago=9)            # outside the 7 days
    log(workspace, "qwen/qwen-plus", None)                                   # no latency recorded
    page = client.get("/models?sort=latency").get_data(as_text=True)
    shown = order(page)
    assert shown[:2] == ["qwen/qwen-plus", "deepseek/deepseek-v4-flash"]
    assert sorted(shown[2:]) == shown[2:] and len(shown) == len(get_snapshot().models)
    row = page.split('<tr data-model-id="qwen/qwen-plus">')[1].split("</tr>")[0]
    assert "400 ms" in row
    assert order(client.get("/models?sort=-latency").get_data(as_text=True))[:2] == \
        ["deepseek/deepseek-v4-flash", "qwen/qwen-plus"]


def test_sort_keeps_the_filters_and_ignores_junk(client):
    page = client.get("/models?provider=qwen&sort=-price").get_data(as_text=True)
    assert all(i.startswith("qwen/") for i in order(page))
    assert 'name="sort" value="-price"' in page and "provider=qwen" in page
    assert order(client.get("/models?sort=drop+table").get_data(as_text=True)) == sorted(get_snapshot().models)
    fragment = client.get("/models?sort=context", headers={"HX-Request": "true", "HX-Target": "model_list"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<section id="model_list"')
