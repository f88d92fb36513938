"""A key's monthly spend cap, through the real openai SDK: in-flight holds count against it, and it is per key."""
import threading

import openai
import pytest
from sqlalchemy import select

from ethergate.extensions import db
from ethergate.billing.models import KeySpend

from .e2e import (MODEL, assert_audit_passes, assert_books_balance, assert_holds_resolved_once,  # noqa: F401
                  clean_fake, entries, fresh, hold_for, log_rows, say)

MAX_TOKENS = 1000
# Each answer costs about 60% of its hold, so one fits under the cap and a second never does.
SLOW = say("capped", delay_ms=1500, usage={"completion_tokens": 600})
QUICK = say("capped", usage={"completion_tokens": 600})


def sdk(server, key):
    return openai.OpenAI(api_key=key, base_url=server.base_url, max_retries=0, timeout=30)


def ask(client, messages):
    return client.chat.completions.with_raw_response.create(model=MODEL, messages=messages, max_tokens=MAX_TOKENS)


def test_cap_refuses_what_would_exceed_it_and_other_keys_still_work(live_server, live_factories):
    hold = hold_for(SLOW, MAX_TOKENS)
    cap = hold + hold // 2
    tenant = live_factories.tenant(credits="100.00", rpm_limit=1000, monthly_spend_cap_micro=cap)
    workspace_id, capped_id = tenant.workspace.id, tenant.key.id
    uncapped = live_factories.key(tenant.workspace, name="batch jobs", rpm_limit=1000)
    uncapped_id = uncapped.key.id  # now: after a rollback, touching the ORM object would reopen a transaction
    capped_client = sdk(live_server, tenant.plaintext)

    results: list = [None, None]
    barrier = threading.Barrier(2)

    def race(index):
        barrier.wait()
        try:
            results[index] = ask(capped_client, SLOW)
        except openai.APIStatusError as exc:
            results[index] = exc

    threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    refused = [r for r in results if isinstance(r, openai.APIStatusError)]
    served = [r for r in results if not isinstance(r, openai.APIStatusError)]
    assert len(served) == 1 and len(refused) == 1, results
    assert_cap_refusal(refused[0])
    assert served[0].parse().choices[0].message.content

    with pytest.raises(openai.APIStatusError) as following:
        ask(capped_client, SLOW)  # refused before routing, so the upstream delay never applies
    assert_cap_refusal(following.value)

    spends = KeySpend.__table__
    spent = fresh(lambda: db.session.execute(select(spends).where(spends.c.api_key_id == capped_id)).one())
    assert (spent.held_micro, spent.spent_micro) == (0, -sum(e.amount_micro for e in entries(workspace_id, "usage")))
    assert 0 < spent.spent_micro <= cap and spent.spent_micro + hold > cap

    other = sdk(live_server, uncapped.plaintext)
    for _ in range(3):
        assert ask(other, QUICK).parse().choices[0].message.content

    by_key = {}
    for entry in entries(workspace_id, "usage"):
        by_key.setdefault(entry.api_key_id, []).append(-entry.amount_micro)
    assert len(by_key[capped_id]) == 1 and sum(by_key[capped_id]) <= cap
    assert len(by_key[uncapped_id]) == 3
    assert_books_balance(workspace_id)
    assert_holds_resolved_once(workspace_id)
    refusals = [row for row in log_rows(workspace_id=workspace_id) if row.status_code == 402]
    assert [(r.api_key_id, r.error_code) for r in refusals] == [(capped_id, "key_spend_cap_exceeded")] * 2
    assert_audit_passes(live_server.database_url)


def assert_cap_refusal(error: openai.APIStatusError) -> None:
    assert error.status_code == 402 and error.code == "key_spend_cap_exceeded", error
    assert error.type == "insufficient_quota" and error.request_id
    assert error.body["code"] == "key_spend_cap_exceeded" and "monthly spend cap" in error.body["message"]


def test_a_worst_case_above_an_unspent_cap_says_what_fits(live_server, live_factories):
    """A key capped at ¥0.05 with nothing spent: the refusal names the worst case and a max_tokens that fits."""
    tenant = live_factories.tenant(credits="100.00", rpm_limit=1000, monthly_spend_cap_micro=50_000)
    client = sdk(live_server, tenant.plaintext)
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model=MODEL, messages=QUICK, max_tokens=30_000)
    assert_cap_refusal(refused.value)
    message = refused.value.body["message"]
    assert "reached" not in message and "¥0.00 spent" in message
    assert "may cost up to" in message and "¥0.05 left under this API key's monthly spend cap of ¥0.05" in message
    fits = int(message.split("Set max_tokens to ")[1].split()[0])
    assert hold_for(QUICK, fits) <= 50_000 < hold_for(QUICK, fits + 1)
    assert client.chat.completions.create(model=MODEL, messages=QUICK, max_tokens=fits).choices[0].message.content
    assert_books_balance(tenant.workspace.id)
    assert_audit_passes(live_server.database_url)
