"""Thousands of hostile /v1 requests, generated: the documented answer every time, no traceback, no money moved
by an error, no hold left behind, the balance always the sum of its entries.

Seeded and reproducible: the `hostile-input` profile derandomizes generation (same examples every run).
ETHERGATE_HOSTILE_EXAMPLES overrides the number of examples (2,000 by default, as CI runs it).
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .hostile_requests import hostile_requests
from .inprocess import account, check_answer, funded, gateway_app, tracebacks  # noqa: F401

settings.register_profile(
    "hostile-input", max_examples=int(os.environ.get("ETHERGATE_HOSTILE_EXAMPLES", "2000")), derandomize=True,
    deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example])


@settings(settings.get_profile("hostile-input"))
@given(data=st.data())
def test_hostile_requests_get_documented_answers_and_move_no_money(gateway_app, funded, tracebacks, data):
    workspace_id = funded.workspace_id
    client = gateway_app.test_client()
    sent = data.draw(hostile_requests(funded.plaintext), label="request")
    # The balance after one example is the balance before the next: read it once per example.
    before = funded.last_balance if funded.last_balance is not None else account(gateway_app, workspace_id)[0]
    funded.last_balance = None  # until this example has read it again

    response = client.open(sent.path, method=sent.method, data=sent.body, headers=sent.headers)
    try:
        seen = check_answer(response, sent.request_id, sent.path)
    finally:
        response.close()

    assert tracebacks.take() == []
    balance, held, pending, entries = account(gateway_app, workspace_id)
    funded.last_balance = balance
    assert (held, pending) == (0, 0), "a hold was left pending"
    assert balance == entries, "the balance is not the sum of the entries"
    if seen["status"] != 200:
        assert balance == before, f"an error answer ({seen['status']}) was billed"
