"""Request IDs: the client's X-Request-Id when it is safe to echo and store, a new one otherwise."""
from __future__ import annotations

import re
import uuid

# \Z, not $: "$" would also match before a trailing newline, which a header cannot carry.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}\Z")


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex


def request_id_from(sent: str | None) -> str:
    return sent if sent and SANE_REQUEST_ID.fullmatch(sent) else new_request_id()
