"""Real /v1 requests through the app under test, against the fake upstream, for the trace tests."""
from __future__ import annotations

import pytest
from markupsafe import escape

from tests.conftest import PROVIDER_KEYS, app_config


@pytest.fixture
def app(database_url, fake_upstream):
    """The test app with every provider pointed at the fake upstream, so /v1 works in-process."""
    from ethergate import create_app
    from ethergate.extensions import db

    fake_upstream.clear()
    config = app_config(database_url, PROVIDER_KEYS=dict(PROVIDER_KEYS),
                        PROVIDER_BASE_URLS={name: fake_upstream.base_url(name) for name in PROVIDER_KEYS})
    app = create_app(config)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    fake_upstream.clear()


def chat(client, key: str, request_id: str, model: str = "qwen/qwen-plus", text: str = "hi",
         user_agent: str = "support-test/1.0", **body):
    return client.post("/v1/chat/completions",
                       json={"model": model, "messages": [{"role": "user", "content": text}], **body},
                       headers={"Authorization": f"Bearer {key}", "X-Request-Id": request_id,
                                "User-Agent": user_agent})


def shows(html: str, value) -> bool:
    """The value as the page would print it (HTML-escaped)."""
    return str(escape(str(value))) in html


def section(html: str, dom_id: str) -> str:
    """The <section> whose heading has this id, up to its end."""
    start = html.index(f'id="{dom_id}"')
    return html[start:html.index("</section>", start)]


def stamp(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")

