"""Every way a streamed request can end before its first byte resolves its hold at once (not at the sweep),
and nothing is billed for it. In-process, against the fake upstream over real HTTP."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from ethergate.billing import ledger
from ethergate.billing.models import Hold
from ethergate.extensions import db
from ethergate.gateway import relay
from ethergate.usage.models import RequestLog
from tests.support.gateway import app, chat  # noqa: F401  (app: fixture)


def settled(request_id: str):
    """(hold status, the one log row) right after the response: no waiting for a sweep."""
    try:
        [hold] = db.session.scalars(select(Hold).where(Hold.request_id == request_id)).all()
        [row] = db.session.scalars(select(RequestLog).where(RequestLog.request_id == request_id)).all()
        return hold.status, row
    finally:
        db.session.rollback()


def assert_nothing_held_or_billed(workspace_id: int, credits: int) -> None:
    assert ledger.account_state(workspace_id) == (credits, 0)
    assert ledger.recompute_balance(workspace_id) == credits


def test_upstream_failure_before_the_first_byte(app, factories, fake_upstream):
    tenant = factories.tenant(credits="20.00")
    fake_upstream.add_behavior("qwen", {"status": 503})
    response = chat(app.test_client(), tenant.plaintext, "exit-upstream", stream=True)
    assert response.status_code == 502
    status, row = settled("exit-upstream")
    assert status == "voided" and (row.status_code, row.cost_micro) == (502, 0)
    assert_nothing_held_or_billed(tenant.workspace.id, 20_000_000)


def test_an_exception_while_building_the_stream_response(app, factories, monkeypatch):
    tenant = factories.tenant(credits="20.00")

    def broken(*args, **kwargs):
        raise RuntimeError("could not build the relay")

    monkeypatch.setattr(relay.Relay, "__init__", broken)
    response = chat(app.test_client(), tenant.plaintext, "exit-build", stream=True)
    assert response.status_code == 500
    status, row = settled("exit-build")
    assert status == "voided" and (row.status_code, row.error_code, row.cost_micro) == (500, "internal_error", 0)
    assert_nothing_held_or_billed(tenant.workspace.id, 20_000_000)


def test_a_stream_response_closed_before_its_body_is_read(app, factories, fake_upstream):
    from werkzeug.test import EnvironBuilder
    tenant = factories.tenant(credits="20.00")
    environ = EnvironBuilder(path="/v1/chat/completions", method="POST",
                             json={"model": "qwen/qwen-plus", "stream": True,
                                   "messages": [{"role": "user", "content": "hi"}]},
                             headers={"Authorization": f"Bearer {tenant.plaintext}",
                                      "X-Request-Id": "exit-unread"}).get_environ()
    started = []
    body = app(environ, lambda status, headers, exc_info=None: started.append(status))
    assert started == ["200 OK"]
    body.close()  # what a server does when the client is gone (or the headers failed) before the first byte
    status, row = settled("exit-unread")
    assert status == "voided" and (row.status_code, row.error_code, row.cancelled) == (499, "client_cancelled", True)
    assert row.cost_micro == 0 and row.provider == "qwen"
    assert_nothing_held_or_billed(tenant.workspace.id, 20_000_000)


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
def test_an_answer_that_cannot_be_built_is_not_billed(app, factories, monkeypatch, stream):
    """#14.5: the client got an error, and no generated token reached it: it costs nothing."""
    from ethergate.gateway import pipeline
    tenant = factories.tenant(credits="20.00")

    def unbuildable(*args, **kwargs):
        raise ValueError("unbuildable answer")

    monkeypatch.setattr(pipeline, "normalize_completion", unbuildable)
    monkeypatch.setattr(relay.StreamTranslator, "feed", unbuildable)
    response = chat(app.test_client(), tenant.plaintext, f"exit-error-{stream}", stream=stream)
    body = response.get_data(as_text=True)
    if stream:
        assert response.status_code == 200 and "provider_request_failed" in body and "[DONE]" not in body
    else:
        assert response.status_code == 500
    status, row = settled(f"exit-error-{stream}")
    assert status == "voided" and row.status_code >= 500 and row.cost_micro == 0
    assert_nothing_held_or_billed(tenant.workspace.id, 20_000_000)
