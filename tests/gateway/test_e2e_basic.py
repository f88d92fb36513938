"""The docs' examples through the real openai SDK, against the live server and the fake upstream."""
import pytest
from sqlalchemy import select

from ethergate.billing import ledger
from ethergate.extensions import db
from ethergate.usage.models import RequestLog

pytestmark = pytest.mark.shared_live_server  # each test makes its own tenant


def test_python_sdk_plain_completion(client, tenant, live_app):
    raw = client.chat.completions.with_raw_response.create(
        model="deepseek/deepseek-v4-flash",
        messages=[{"role": "user", "content": "Write a concise launch checklist"}])
    completion = raw.parse()
    assert completion.choices[0].message.content.startswith("Hello from fake deepseek")
    assert completion.model == "deepseek/deepseek-v4-flash"
    assert raw.headers["X-EtherGate-Provider"] == "deepseek"
    request_id = raw.headers["X-Request-Id"]
    assert request_id
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    row = db.session.scalar(select(RequestLog).where(RequestLog.request_id == request_id))
    assert row.status_code == 200 and row.cost_micro > 0 and row.provider == "deepseek"
    balance, held = ledger.account_state(tenant.workspace.id)
    assert held == 0 and balance == 100_000_000 - row.cost_micro
    assert ledger.recompute_balance(tenant.workspace.id) == balance


def test_python_sdk_stream(client):
    stream = client.chat.completions.create(
        model="qwen/qwen-plus", messages=[{"role": "user", "content": "Draft a product changelog"}],
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Hello from fake qwen")
    assert chunks[-1].usage is not None and chunks[-1].choices == []
