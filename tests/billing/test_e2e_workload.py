"""A seeded, randomized workload over real HTTP; afterwards every credit is accounted for.

Two servers share one database. Client threads send streamed and plain requests with random
outcomes (answers with and without usage, upstream 500/429 rules with `times`, connections dropped
mid-stream or before the answer, clients that hang up or give up), while top-ups land in between.
Whatever happened to each request, afterwards: every balance is the sum of its entries, nothing is
held, every hold was resolved exactly once (a captured one has one usage entry, a voided one none),
billing and request logging agree, and each request has exactly one request-log row.
Set ETHERGATE_E2E_SEED to replay a failing run.
"""
import os
import random
import threading
import time

import requests

from ethergate.billing import ledger
from ethergate.extensions import db

from .e2e import (MODEL, account, assert_audit_passes, assert_books_balance, assert_holds_resolved_once,  # noqa: F401
                  clean_fake, entries, log_rows, say, wait_for)

SEED = int(os.environ.get("ETHERGATE_E2E_SEED", "20261124"))
WORKERS, RUN_SECONDS, SETTLE_SECONDS = 16, 10.0, 15.0
FUNDING, TOPUP_RANGE = 60_000, (5_000, 40_000)
KINDS = {"plain": 6, "stream": 5, "no_usage": 1, "upstream_error": 2, "dropped": 1, "stream_cut": 2,
         "hang_up": 2, "impatient": 1}
SERVED_STATUSES = {200, 402, 429, 502, 503}


def plan(rng: random.Random, request_id: str) -> tuple[str, dict, float]:
    """(kind, request body, client timeout) for one request."""
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    max_tokens = rng.choice((20, 200, 1000, 4000))
    behavior: dict = {"chunks": rng.randint(2, 6)}
    if kind in ("plain", "stream"):
        behavior["usage"] = {"completion_tokens": rng.randint(0, max_tokens), "cached_tokens": rng.randint(0, 5)}
        behavior["gap_ms"] = rng.choice((0, 0, 20, 80))
    elif kind == "no_usage":
        behavior["no_usage"] = True
    elif kind == "upstream_error":
        behavior["status"] = rng.choice((500, 429))
    elif kind == "dropped":
        behavior["drop_after"] = 0
    elif kind == "stream_cut":
        behavior.update(drop_after=rng.randint(0, 3), chunks=6)
    elif kind == "hang_up":
        behavior.update(gap_ms=150, chunks=8)
    elif kind == "impatient":
        behavior["delay_ms"] = 1200
    stream = kind in ("stream", "stream_cut", "hang_up") or (kind == "no_usage" and rng.random() < 0.5)
    body = {"model": MODEL, "messages": say(f"job {request_id}", **behavior), "max_tokens": max_tokens,
            "stream": stream}
    if stream and rng.random() < 0.5:
        body["stream_options"] = {"include_usage": True}
    return kind, body, 0.4 if kind == "impatient" else 30


def send(http: requests.Session, server, key: str, request_id: str, kind: str, body: dict, timeout: float):
    """The status the client saw, or what went wrong on its side."""
    headers = {"Authorization": f"Bearer {key}", "X-Request-Id": request_id}
    try:
        with http.post(server.base_url + "/chat/completions", json=body, headers=headers, timeout=timeout,
                       stream=body["stream"]) as response:
            if kind == "hang_up" and response.status_code == 200:
                lines = (line for line in response.iter_lines() if line)
                next(lines, None), next(lines, None)
                return "hung up"  # leaving the block closes the connection mid-stream
            response.content
            return response.status_code
    except requests.Timeout:
        return "timed out"
    except requests.ConnectionError:
        return "connection error"


def test_random_workload_keeps_the_books(live_server, live_server_factory, live_factories, live_app, fake_upstream):
    servers = (live_server, live_server_factory())
    tenants = [live_factories.tenant(credits=None, rpm_limit=100_000) for _ in range(3)]
    capped = live_factories.key(tenants[0].workspace, name="capped", rpm_limit=100_000,
                                monthly_spend_cap_micro=30_000)
    keys = [(t.workspace.id, t.plaintext) for t in tenants] + [(tenants[0].workspace.id, capped.plaintext)]
    workspace_ids = sorted({w for w, _ in keys})
    granted = {w: FUNDING for w in workspace_ids}
    for workspace_id in workspace_ids:
        ledger.post_entry(workspace_id, FUNDING, "grant", note="e2e funding", actor_label="test")
    db.session.rollback()

    deadline = time.monotonic() + RUN_SECONDS
    outcomes: dict[str, tuple[str, object]] = {}
    problems: list[str] = []

    def worker(index: int) -> None:
        rng = random.Random(SEED * 1000 + index)
        with requests.Session() as http:
            n = 0
            while time.monotonic() < deadline:
                request_id = f"wl-{index:02d}-{n:04d}"
                n += 1
                _workspace, key = rng.choice(keys)
                kind, body, timeout = plan(rng, request_id)
                outcomes[request_id] = (kind, send(http, servers[n % 2], key, request_id, kind, body, timeout))

    def chaos() -> None:
        rng = random.Random(SEED)
        while time.monotonic() < deadline:
            fake_upstream.add_behavior("qwen", {"status": rng.choice((500, 429))}, times=rng.randint(1, 3))
            time.sleep(rng.uniform(0.3, 1.0))

    def top_ups() -> None:
        rng = random.Random(SEED + 1)
        with live_app.app_context():
            try:
                while time.monotonic() < deadline:
                    workspace_id, amount = rng.choice(workspace_ids), rng.randint(*TOPUP_RANGE)
                    ledger.post_entry(workspace_id, amount, "grant", note="e2e top-up", actor_label="test")
                    granted[workspace_id] += amount
                    time.sleep(rng.uniform(0.1, 0.4))
            except Exception as exc:  # noqa: BLE001  (reported by the test)
                problems.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    threads += [threading.Thread(target=chaos), threading.Thread(target=top_ups)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RUN_SECONDS + 60)
    assert not any(thread.is_alive() for thread in threads), "the workload did not finish"
    assert not problems, problems
    fake_upstream.clear()

    seen = {}
    for kind, result in outcomes.values():
        seen.setdefault(kind, set()).add(result)
    client_side = {"hung up", "timed out"}
    unexpected = {r: o for r, o in outcomes.items() if o[1] not in SERVED_STATUSES | client_side}
    assert not unexpected, sorted(unexpected.items())[:10]
    statuses = {result for _kind, result in outcomes.values()}
    assert {200, 402, 502, "hung up", "timed out"} <= statuses, seen

    # Streams settle after their last byte and impatient clients' answers arrive late: let them land.
    assert wait_for(lambda: all(account(w)[1] == 0 for w in workspace_ids), timeout=SETTLE_SECONDS), \
        {w: account(w) for w in workspace_ids}
    assert wait_for(lambda: {r.request_id for r in log_rows()} >= set(outcomes), timeout=SETTLE_SECONDS)

    outcomes_of_holds = set()
    for workspace_id in workspace_ids:
        balance = assert_books_balance(workspace_id)
        assert balance >= 0 and all(e.balance_after_micro >= 0 for e in entries(workspace_id))
        assert sum(e.amount_micro for e in entries(workspace_id, "grant")) == granted[workspace_id]
        outcomes_of_holds |= {h.status for h in assert_holds_resolved_once(workspace_id)}
    assert outcomes_of_holds == {"captured", "voided"}

    rows = log_rows()
    per_request = {}
    for row in rows:
        per_request.setdefault(row.request_id, []).append(row)
    assert {r: len(found) for r, found in per_request.items() if len(found) != 1} == {}
    assert set(per_request) == set(outcomes)
    usage = [e for w in workspace_ids for e in entries(w, "usage")]
    assert len({e.request_id for e in usage}) == len(usage)
    for entry in usage:
        row = per_request[entry.request_id][0]
        assert (row.cost_micro, row.hold_id, row.estimated) == (-entry.amount_micro, entry.hold_id, entry.estimated)
    unbilled = [r for r in rows if r.request_id not in {e.request_id for e in usage}]
    assert all(r.cost_micro == 0 for r in unbilled)
    assert any(e.estimated for e in usage), "no cut or cancelled stream was billed on an estimate"
    assert_audit_passes(live_server.database_url)
