"""Two server processes on one database, 200 requests racing for a balance that covers only some of them.

The hold is the only thing standing between concurrent requests and an overdraft: each request must
win its hold in one conditional UPDATE or be refused with 402, on SQLite (where the two processes
take turns on the write lock) as on PostgreSQL.
"""
import threading
import time

import requests

from .e2e import (MODEL, account, assert_audit_passes, assert_books_balance, assert_holds_resolved_once,  # noqa: F401
                  clean_fake, entries, fund, hold_for, log_rows, say)

REQUESTS, THREADS_PER_SERVER = 200, 100
MAX_TOKENS = 1000
# Slow enough that most holds are taken while the first answers are still in flight.
MESSAGES = say("race for the last credits", delay_ms=1500, usage={"completion_tokens": 900})


def test_racing_requests_never_overdraw(live_server, live_server_factory, live_factories):
    second = live_server_factory()
    tenant = live_factories.tenant(credits=None, rpm_limit=10_000)
    workspace_id = tenant.workspace.id
    hold = hold_for(MESSAGES, MAX_TOKENS)
    funded = hold * REQUESTS * 2 // 5
    fund(workspace_id, funded)

    outcomes: dict[str, tuple[int, dict]] = {}
    barrier = threading.Barrier(REQUESTS + 1)

    def send(index: int, server) -> None:
        request_id = f"race-{index:03d}"
        with requests.Session() as http:
            barrier.wait()
            try:
                response = http.post(server.base_url + "/chat/completions", timeout=90,
                                     headers={"Authorization": f"Bearer {tenant.plaintext}",
                                              "X-Request-Id": request_id},
                                     json={"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS})
                outcomes[request_id] = (response.status_code, response.json())
            except Exception as exc:  # noqa: BLE001  (reported by the assertions)
                outcomes[request_id] = (0, {"exception": repr(exc)})

    servers = (live_server, second)
    threads = [threading.Thread(target=send, args=(i, servers[i % 2])) for i in range(REQUESTS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    lowest_available = funded
    while any(thread.is_alive() for thread in threads):
        balance, held = account(workspace_id)
        assert balance >= 0 and balance - held >= 0, (balance, held)
        lowest_available = min(lowest_available, balance - held)
        time.sleep(0.02)
    for thread in threads:
        thread.join()

    statuses = {request_id: status for request_id, (status, _body) in outcomes.items()}
    assert len(statuses) == REQUESTS
    unexpected = {r: outcomes[r] for r, s in statuses.items() if s not in (200, 402)}
    assert not unexpected, list(unexpected.items())[:5]
    refused = [body["error"] for status, body in outcomes.values() if status == 402]
    assert {error["code"] for error in refused} == {"insufficient_credits"}
    served = sorted(r for r, s in statuses.items() if s == 200)
    assert 0 < len(served) < REQUESTS and refused, "the balance should cover some requests, not all"
    # Holds only shrink the available balance by `hold` each, so none was refused while one more fit.
    assert len(served) >= funded // hold
    assert lowest_available < hold, "the race never reached the bottom of the balance"

    balance = assert_books_balance(workspace_id)
    assert balance >= 0
    usage = entries(workspace_id, "usage")
    assert sum(e.amount_micro for e in usage) == balance - funded
    assert sorted(e.request_id for e in usage) == served, "every 200 billed exactly once, no 402 billed"
    assert all(0 < -e.amount_micro <= hold for e in usage)
    resolved = assert_holds_resolved_once(workspace_id)
    assert len(resolved) == len(served) and {h.status for h in resolved} == {"captured"}

    logged = {}
    for row in log_rows(workspace_id=workspace_id):
        logged.setdefault(row.request_id, []).append(row.status_code)
    assert logged == {request_id: [status] for request_id, status in statuses.items()}
    assert_audit_passes(live_server.database_url)
