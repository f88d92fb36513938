"""The human status page: overall state, database, rate limiter, providers and models, in both languages."""
from __future__ import annotations

import re
from html import unescape

from ethergate.gateway.runtime import runtime


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_status_page_without_provider_keys_says_why_models_are_not_ready(client):
    response = client.get("/status/page")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    text = text_of(response.get_data(as_text=True))
    assert "Operational, some models unavailable" in text and "0 of 12 models ready" in text
    assert "Database State reachable" in text and "Rate limiter" in text and "memory, per server process" in text
    assert "qwen has no API key (ETHERGATE_QWEN_API_KEY is not set)" in text


def test_status_page_with_traffic_shows_provider_health(app, client):
    app.config["PROVIDER_KEYS"] = {"deepseek": "sk-d", "qwen": "sk-q", "moonshot": "sk-m"}
    board = runtime(app)[1]
    for latency in (100, 300, 200):
        board.record("qwen", "qwen-plus", True, latency)
    board.record("qwen", "qwen-plus-latest", False, 50, error="HTTP 503 from upstream")
    page = client.get("/status/page").get_data(as_text=True)
    text = text_of(page)
    assert "All systems operational" in text and "12 of 12 models ready" in text
    row = text_of(page.split('<tr data-provider="qwen">')[1].split("</tr>")[0])
    assert "yes" in row and " 4 " in row and "75%" in row and "200 ms" in row
    assert "HTTP 503 from upstream" in row and "ago" in row
    assert 'data-model-id="qwen/qwen-plus"' in page and 'href="/models/qwen/qwen-plus"' in page


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


def test_status_page_in_chinese(client):
    client.submit("/language", {"lang": "zh-CN", "next": "/"})
    page = client.get("/status/page").get_data(as_text=True)
    assert "数据库" in page and "限流器" in page and "未就绪" in page
    assert "没有 API 密钥" in page
