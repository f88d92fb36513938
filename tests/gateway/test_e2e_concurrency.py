"""Mixed concurrent traffic on one gateway: every request answered, logged once, and settled in the ledger."""
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import openai

from .e2e import ledger_invariant, live_server, log_rows, say, wait_for  # noqa: F401


def test_concurrent_streams_completions_failures_and_hang_ups(live_server, tenant):
    def one(number: int) -> str:
        client = openai.OpenAI(api_key=tenant.plaintext, base_url=live_server.base_url, max_retries=0, timeout=30)
        with client:
            kind = number % 4
            if kind == 0:  # hangs up straight after the headers
                client.chat.completions.create(model="qwen/qwen-plus", stream=True,
                                               messages=say("hi", gap_ms=50, chunks=5)).close()
            elif kind == 1:
                list(client.chat.completions.create(model="deepseek/deepseek-v4-flash", stream=True,
                                                    messages=say("hi", gap_ms=50, chunks=5)))
            elif kind == 2:
                client.chat.completions.create(model="moonshot/kimi-k2.6", messages=say("hi", delay_ms=100))
            else:
                try:
                    client.chat.completions.create(model="qwen/qwen-flash", messages=say("hi", status=400))
                except openai.BadRequestError:
                    return "refused"
            return "ok"

    with ThreadPoolExecutor(20) as pool:
        outcomes = Counter(pool.map(one, range(40)))
    assert outcomes == {"ok": 30, "refused": 10}
    assert wait_for(lambda: len(log_rows()) == 40, timeout=5)  # streams log when they settle
    rows = log_rows()
    assert len({r.request_id for r in rows}) == 40
    assert Counter(r.status_code for r in rows) == {200: 30, 400: 10}
