"""A server killed mid-request leaves its hold pending; the next server's sweeper releases it after its TTL.

What a crash costs, by design: the killed request is never billed (its hold expires, nothing is
debited, even for a stream that had already started) and it has no request-log row, since
that row is written in the same transaction as the capture or void that never ran. Support can still
trace it: the hold keeps the request ID, the key, the amount and when it was placed, and ends
"expired" rather than "captured" or "voided".
"""
import threading

import pytest
import requests

from .e2e import (MODEL, account, assert_audit_passes, assert_books_balance, assert_holds_resolved_once,  # noqa: F401
                  clean_fake, entries, fund, hold_for, holds, log_rows, say, wait_for)

TTL = {"ETHERGATE_HOLD_TTL_SECONDS": "5"}
# The server that dies never sweeps (after its start), so only the next server can release the hold.
DOOMED = {**TTL, "ETHERGATE_SWEEP_INTERVAL_SECONDS": "3600"}
SWEEPING = {**TTL, "ETHERGATE_SWEEP_INTERVAL_SECONDS": "1"}
MAX_TOKENS = 2000
FUNDS = 1_000_000


@pytest.fixture
def live_server(live_server_factory):
    return live_server_factory(extra_env=DOOMED)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream-open"])
def test_hold_of_a_killed_request_expires_on_the_next_server(live_server, live_server_factory, live_factories,
                                                              fake_upstream, stream):
    tenant = live_factories.tenant(credits=None, rpm_limit=1000)
    workspace_id = tenant.workspace.id
    fund(workspace_id, FUNDS)
    # Non-streamed: the upstream never answers. Streamed: the first event arrives, then nothing for a minute.
    messages = say("long job", gap_ms=60_000, chunks=4) if stream else say("long job", hang=True)
    hold = hold_for(messages, MAX_TOKENS)
    request_id = f"doomed-{'stream' if stream else 'plain'}"
    received: list = []

    def send():
        try:
            with requests.post(live_server.base_url + "/chat/completions", stream=True, timeout=60,
                               headers={"Authorization": f"Bearer {tenant.plaintext}", "X-Request-Id": request_id},
                               json={"model": MODEL, "messages": messages, "max_tokens": MAX_TOKENS,
                                     "stream": stream}) as response:
                for line in response.iter_lines():
                    received.append(line)
        except requests.RequestException as exc:
            received.append(exc)

    client = threading.Thread(target=send)
    client.start()
    assert wait_for(lambda: [h for h in holds(workspace_id) if h.status == "pending"], timeout=10)
    if stream:
        assert wait_for(lambda: any(line.startswith(b"data: {") for line in received if isinstance(line, bytes)),
                        timeout=10)
    assert account(workspace_id) == (FUNDS, hold)

    live_server.kill()
    client.join(30)
    assert not client.is_alive() and isinstance(received[-1], requests.RequestException)
    [pending] = holds(workspace_id)
    assert (pending.status, pending.request_id, pending.amount_micro) == ("pending", request_id, hold)
    assert account(workspace_id) == (FUNDS, hold), "a crash must neither move money nor release the hold"

    successor = live_server_factory(extra_env=SWEEPING)
    assert wait_for(lambda: holds(workspace_id)[0].status == "expired", timeout=30), "the sweeper never ran"
    [expired] = holds(workspace_id)
    assert expired.resolved_at >= expired.expires_at and expired.captured_micro in (0, None)
    assert assert_books_balance(workspace_id) == FUNDS
    assert entries(workspace_id, "usage") == []
    assert log_rows(request_id=request_id) == [], "the crash loses the request-log row (see the docstring)"

    answer = requests.post(successor.base_url + "/chat/completions", timeout=30,
                           headers={"Authorization": f"Bearer {tenant.plaintext}"},
                           json={"model": MODEL, "messages": say("after the crash"), "max_tokens": 50})
    assert answer.status_code == 200, answer.text
    balance = assert_books_balance(workspace_id)
    assert 0 < FUNDS - balance <= hold_for(say("after the crash"), 50)
    assert [h.status for h in assert_holds_resolved_once(workspace_id)] == ["expired", "captured"]
    assert_audit_passes(live_server.database_url)
