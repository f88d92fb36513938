"""Out of credits: the documented 402 through the openai SDK, then an operator's top-up takes effect at once."""
import re

import openai
import pytest

from ethergate.money import format_plain

from .e2e import (MODEL, assert_audit_passes, assert_books_balance, clean_fake, flask_cli, hold_for,  # noqa: F401
                  log_rows, say)

HELLO = say("hello")
SUGGESTION = re.compile(r"Set max_tokens to (\d+) or less")


def sdk(server, key):
    return openai.OpenAI(api_key=key, base_url=server.base_url, max_retries=0, timeout=30)


def refusal(client, **options) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=MODEL, messages=HELLO, **options)
    error = caught.value
    assert error.status_code == 402 and error.code == "insufficient_credits", error
    assert error.type == "insufficient_quota" and error.body["code"] == "insufficient_credits"
    assert error.request_id and error.request_id == error.response.headers["X-Request-Id"]
    assert error.body["request_id"] == error.request_id
    return error


def test_zero_credits_then_a_cli_grant_works_without_a_restart(live_server, live_factories):
    broke = live_factories.tenant(credits=None, rpm_limit=1000)
    workspace_id, slug = broke.workspace.id, broke.workspace.slug
    client = sdk(live_server, broke.plaintext)

    error = refusal(client)
    message = error.body["message"]
    assert "workspace balance is ¥0.00" in message and "¥0.00 available" in message
    assert "Add credits" in message and not SUGGESTION.search(message), "nothing fits in an empty balance"
    [row] = log_rows(request_id=error.request_id)
    assert (row.status_code, row.error_code, row.workspace_id) == (402, "insufficient_credits", workspace_id)

    # Enough for a modest answer, not for the model's whole output limit: the 402 says what would fit.
    granted = flask_cli(live_server.database_url, "admin", "grant-credits", slug, "0.01", "--note", "trial")
    assert granted.returncode == 0, granted.stderr
    error = refusal(client)
    message = error.body["message"]
    assert "workspace balance is ¥0.01" in message
    fits = int(SUGGESTION.search(message).group(1))
    assert hold_for(HELLO, fits) <= 10_000 < hold_for(HELLO, fits + 1)
    assert client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=fits).choices[0].message.content

    topped = flask_cli(live_server.database_url, "admin", "grant-credits", slug, "5", "--note", "top-up")
    assert topped.returncode == 0, topped.stderr
    answer = client.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
    assert answer.parse().choices[0].message.content
    balance = assert_books_balance(workspace_id)
    assert flask_cli(live_server.database_url, "admin", "balance", slug).stdout.strip() == format_plain(balance)
    statuses = [row.status_code for row in log_rows(workspace_id=workspace_id)]
    assert statuses == [402, 402, 200, 200]
    assert_audit_passes(live_server.database_url)
