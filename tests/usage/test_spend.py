"""Reports equal plain sums over the ledger entries and request log rows they summarise."""
import random
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest

from ethergate.billing import ledger
from ethergate.usage import spend as reports
from ethergate.extensions import db
from ethergate.usage.models import RequestLog

DAY0 = datetime(2026, 10, 30)
MODELS = ("qwen/qwen-plus", "deepseek/deepseek-v4-flash", "moonshot/kimi-k2.6")


@pytest.fixture
def traffic(factories):
    """Charges and request log rows over four days, two keys and three models, plus a noisy neighbour."""
    workspace = factories.workspace(credits="1000.00")
    keys = [factories.key(workspace).key.id for _ in range(2)]
    neighbour = factories.workspace(credits="1000.00")
    neighbour_key = factories.key(neighbour).key.id
    workspace_id, neighbour_id = workspace.id, neighbour.id
    rng = random.Random(7)
    charges, logs = [], []
    for n in range(60):
        own = n % 5 != 0
        ws, key = (workspace_id, rng.choice(keys)) if own else (neighbour_id, neighbour_key)
        model = rng.choice(MODELS)
        # Include the last microsecond of a day and the first of the next, for the day buckets.
        at = DAY0 + timedelta(days=n % 4, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        at = at.replace(hour=23, minute=59, second=59, microsecond=999_999) if n % 7 == 0 else at
        usage = dict(prompt_tokens=rng.randint(1, 5000), completion_tokens=rng.randint(0, 900))
        usage.update(cached_tokens=rng.randint(0, usage["prompt_tokens"]),
                     reasoning_tokens=rng.randint(0, usage["completion_tokens"]))
        status = rng.choice((200, 200, 200, 402, 502))
        cost = rng.randint(1, 90_000) if status == 200 else 0
        if cost:
            hold = ledger.reserve(ws, 100_000, request_id=f"r{n}", api_key_id=key, now=at)
            ledger.capture(hold, cost, now=at, request_id=f"r{n}", model_id=model, provider=model.split("/")[0],
                           **usage)
            charges.append(dict(workspace_id=ws, api_key_id=key, model_id=model, at=at, cost=cost))
        row = dict(workspace_id=ws, api_key_id=key, model_id=model, status_code=status, cost_micro=cost,
                   created_at=at, **(usage if status == 200 else {}))
        db.session.add(RequestLog(request_id=f"r{n}", method="POST", path="/v1/chat/completions", **row))
        logs.append(row)
    db.session.commit()
    # A top-up on a report day must not count as spend.
    ledger.post_entry(workspace_id, 5_000_000, "topup", reference="t")
    return workspace_id, keys, charges, logs


def pick(rows, workspace_id, api_key_id=None, model_id=None, start=None, end=None, stamp="at"):
    return [r for r in rows if r["workspace_id"] == workspace_id
            and (api_key_id is None or r["api_key_id"] == api_key_id)
            and (model_id is None or r["model_id"] == model_id)
            and (start is None or r[stamp] >= start) and (end is None or r[stamp] < end)]


def filter_sets(keys):
    return [{}, {"api_key_id": keys[0]}, {"model_id": MODELS[1]},
            {"start": DAY0 + timedelta(days=1), "end": DAY0 + timedelta(days=3)},
            {"api_key_id": keys[1], "model_id": MODELS[0], "start": DAY0 + timedelta(hours=12)}]


def test_spend_reports_equal_sums_over_usage_entries(traffic):
    workspace_id, keys, charges, _ = traffic
    for filters in filter_sets(keys):
        rows = pick(charges, workspace_id, **filters)
        by_day, by_model, by_key = defaultdict(int), defaultdict(int), defaultdict(int)
        for r in rows:
            by_day[r["at"].date()] += r["cost"]
            by_model[r["model_id"]] += r["cost"]
            by_key[r["api_key_id"]] += r["cost"]
        days = reports.spend_by_day(workspace_id, **filters)
        assert [(d["day"], d["spend_micro"]) for d in days] == sorted(by_day.items()), filters
        assert all(isinstance(d["day"], date) for d in days)
        assert sum(d["charges"] for d in days) == len(rows)
        assert {m["model_id"]: m["spend_micro"] for m in reports.spend_by_model(workspace_id, **filters)} == by_model
        spend = reports.spend_by_key(workspace_id, **filters)
        assert {k["api_key_id"]: k["spend_micro"] for k in spend} == by_key
        assert [k["spend_micro"] for k in spend] == sorted(by_key.values(), reverse=True)


def test_usage_reports_equal_sums_over_the_request_log(traffic):
    workspace_id, keys, _, logs = traffic
    columns = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cost_micro")
    for filters in filter_sets(keys):
        rows = pick(logs, workspace_id, stamp="created_at", **filters)
        expected = {"requests": len(rows), "errors": sum(r["status_code"] >= 400 for r in rows)}
        expected.update({c: sum(r.get(c, 0) for r in rows) for c in columns})
        assert reports.usage_totals(workspace_id, **filters) == expected, filters
        per_day = reports.tokens_by_day(workspace_id, **filters)
        assert [d["day"] for d in per_day] == sorted({r["created_at"].date() for r in rows})
        for day in per_day:
            same_day = [r for r in rows if r["created_at"].date() == day["day"]]
            assert day["requests"] == len(same_day)
            assert day["prompt_tokens"] == sum(r.get("prompt_tokens", 0) for r in same_day)
            assert day["cost_micro"] == sum(r["cost_micro"] for r in same_day)


def test_logged_cost_agrees_with_the_ledger(traffic):
    workspace_id, *_ = traffic
    spent = sum(d["spend_micro"] for d in reports.spend_by_day(workspace_id))
    assert reports.usage_totals(workspace_id)["cost_micro"] == spent


def test_empty_workspace_reports_zeroes(factories):
    workspace_id = factories.workspace().id
    assert reports.spend_by_day(workspace_id) == reports.spend_by_model(workspace_id) == []
    assert reports.usage_totals(workspace_id) == {
        "requests": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0,
        "reasoning_tokens": 0, "cost_micro": 0}
