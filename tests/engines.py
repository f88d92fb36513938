"""Which tests run on both database engines and which on one, decided by path and marker.

Both engines run what can differ between SQLite and PostgreSQL: the ledger, holds, the fast path,
migrations, reports, multi-process servers and money end-to-end. Pages, installers and request parsing
run the same SQL through the same services on either engine, so they run on one: the first engine of
ETHERGATE_TEST_ENGINES (SQLite unless told otherwise).

The first matching rule wins; a path matching no rule runs on both, so a new directory errs on the
side of coverage. `@pytest.mark.both_engines` / `@pytest.mark.one_engine` on a test or module override
the path; `@pytest.mark.postgresql_only` is for what exists on PostgreSQL alone (it is not collected when
ETHERGATE_TEST_ENGINES leaves PostgreSQL out).
"""
from __future__ import annotations

import os

BOTH, ONE = "both", "one"

# (path prefix relative to the repository, how many engines, why)
RULES: tuple[tuple[str, str, str], ...] = (
    ("tests/billing/", BOTH, "ledger, holds, fast path, reports, top-ups, money end-to-end"),
    ("tests/ops/", BOTH, "gunicorn workers and instances sharing one database"),
    ("tests/test_migrations.py", BOTH, "migrations"),
    ("tests/test_sqlfast.py", BOTH, "the hand-written SQL of the fast path"),
    ("tests/test_cli_billing.py", BOTH, "credits posted by the operator CLI"),
    ("tests/support/test_credits.py", BOTH, "grants and corrections posted by support staff"),
    ("tests/console/", ONE, "pages call services whose SQL is tested on both engines in their own folders"),
    ("tests/support/", ONE, "staff pages, search and audit trail; same SQL on both engines"),
    ("tests/integrations/", ONE, "installers and agents talk to the gateway over HTTP, never to the database"),
    ("tests/browser/", ONE, "the browser drives pages; the money they move is tested on both engines"),
    ("tests/gateway/test_validation.py", ONE, "bad requests are refused before any SQL runs"),
    ("tests/gateway/test_adapters.py", ONE, "provider request and response shapes"),
    ("tests/gateway/test_sse.py", ONE, "event-stream framing"),
    ("tests/gateway/test_models_api.py", ONE, "the model list reads the catalog with the same query on both"),
    ("tests/gateway/test_e2e_curl.py", ONE, "client compatibility over HTTP"),
    ("tests/gateway/test_e2e_sdk_node.py", ONE, "client compatibility over HTTP"),
    ("tests/gateway/test_e2e_tools.py", ONE, "tool-call shapes over HTTP"),
    ("tests/gateway/test_e2e_models_status.py", ONE, "model list and status page over HTTP"),
    ("tests/test_cli.py", ONE, "argument parsing and output; the services it calls are tested on both"),
    ("tests/gateway/test_e2e_agents.py", ONE, "what agent tools send: request and stream shapes over HTTP"),
    ("tests/gateway/test_e2e_routing.py", ONE, "failover, breaker and timeouts happen before any capture SQL"),
    ("tests/gateway/test_openai_schema.py", ONE, "answer shapes against OpenAI's schemas"),
    ("tests/keys/test_e2e_limits.py", ONE, "limits live in memory or Redis; its billed tests are marked both_engines"),
    ("tests/test_application.py", ONE, "URL building and template compiling have no SQL"),
)


def selected_engines() -> list[str]:
    engines = [e.strip() for e in os.environ.get("ETHERGATE_TEST_ENGINES", "sqlite,postgresql").split(",")
               if e.strip()]
    unknown = set(engines) - {"sqlite", "postgresql"}
    if unknown or not engines:
        raise ValueError(f"ETHERGATE_TEST_ENGINES: expected sqlite and/or postgresql, got {sorted(unknown)}")
    return engines


def rule_for(relative_path: str) -> str:
    for prefix, how_many, _why in RULES:
        if relative_path == prefix or relative_path.startswith(prefix):
            return how_many
    return BOTH


def engines_for(relative_path: str, markers: set[str], engines: list[str]) -> list[str]:
    if "postgresql_only" in markers:
        return [e for e in engines if e == "postgresql"]
    if "both_engines" in markers:
        return engines
    if "one_engine" in markers:
        return engines[:1]
    return engines if rule_for(relative_path) == BOTH else engines[:1]
