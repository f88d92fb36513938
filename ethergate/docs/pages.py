"""The docs' table of contents: slug, title and template of every customer page in reading order, and the
operators' pages apart."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class DocPage:
    slug: str            # "" is /docs itself
    title: object        # a lazy_gettext string
    summary: object
    template: str


PAGES: tuple[DocPage, ...] = (
    DocPage("", _l("Production path"), _l("From sign-up to the first production request, step by step."),
            "docs/quickstart.html"),
    DocPage("api", _l("API reference"), _l("Base URL, endpoints, request fields, model IDs and response headers."),
            "docs/api.html"),
    DocPage("errors", _l("Errors"), _l("Status codes, error codes and the JSON body of each."), "docs/errors.html"),
    DocPage("sdks", _l("SDK examples"), _l("The OpenAI SDKs for Python and Node.js, and curl."), "docs/sdks.html"),
    DocPage("messages", _l("Messages API"), _l("Anthropic's Messages API: the anthropic SDKs and Claude Code."),
            "docs/messages.html"),
    DocPage("responses", _l("Responses API"), _l("OpenAI's Responses API, stateless: responses.create and Codex."),
            "docs/responses.html"),
    DocPage("streaming", _l("Streaming"), _l("Incremental answers over server-sent events."), "docs/streaming.html"),
    DocPage("tools", _l("Tool calling"), _l("Let the model call your functions."), "docs/tools.html"),
    DocPage("billing", _l("Credits and billing"), _l("Holds, debits, prices and where to see them."),
            "docs/billing.html"),
    DocPage("agent-tools", _l("Agent tools"), _l("QClaw, OpenClaw, Hermes, Claude Code and Codex with one command."),
            "docs/agent_tools.html"),
    DocPage("going-live", _l("Going-live checklist"), _l("What to check before real users send traffic."),
            "docs/going_live.html"),
    DocPage("benchmarks", _l("Benchmark methodology"), _l("What the model pages' signals measure, and what not."),
            "docs/benchmarks.html"),
)
# For whoever runs an EtherGate instance, not for its customers: outside the reading order, listed apart.
OPERATOR_PAGES: tuple[DocPage, ...] = (
    DocPage("provider-keys", _l("Provider keys"), _l("For operators: the upstream keys the gateway uses."),
            "docs/provider_keys.html"),
)
BY_SLUG = {page.slug: page for page in PAGES + OPERATOR_PAGES}
