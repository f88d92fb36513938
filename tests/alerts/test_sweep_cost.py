"""The alert check costs a fixed number of statements per sweep, whatever the number of workspaces and keys,
and nothing on /v1 (it never runs there)."""
from __future__ import annotations

import time

from sqlalchemy import event

from ethergate.alerts.checks import check_crossings
from ethergate.extensions import db
from ethergate.billing.models import KeySpend
from ethergate.money import MICRO
from ethergate.timeutil import month_key, utcnow


def statements_of(work) -> tuple[int, float]:
    count = [0]

    def seen(*_args):
        count[0] += 1

    engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    started = time.perf_counter()
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return count[0], time.perf_counter() - started


def test_a_quiet_sweep_is_a_few_statements_for_any_number_of_workspaces(factories, capsys):
    now = utcnow()
    for n in range(60):
        workspace = factories.workspace(credits="50.00")
        key = factories.key(workspace, monthly_spend_cap_micro=100 * MICRO).key
        db.session.add(KeySpend(api_key_id=key.id, month=month_key(now), spent_micro=n * MICRO, held_micro=0))
    db.session.commit()
    few, _ = statements_of(lambda: check_crossings(now))  # 60 keys, none at 80 % yet
    assert few <= 4  # accounts below threshold, capped keys past 80 %, remembered crossings (+ BEGIN on SQLite)
    for n in range(60):
        factories.key(factories.workspace(credits="50.00"), monthly_spend_cap_micro=100 * MICRO)
    many, seconds = statements_of(lambda: check_crossings(now))
    assert many == few
    with capsys.disabled():
        print(f"\nalert check over 120 workspaces, nothing crossed: {many} statements, {seconds * 1000:.1f} ms")
