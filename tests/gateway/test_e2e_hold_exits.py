"""Over real HTTP: a streamed request that ends before its first byte resolves its hold at once."""
import json
import socket
import time

from sqlalchemy import select

from ethergate.billing.models import Hold
from ethergate.extensions import db

from .e2e import fresh, ledger_invariant, live_server, log_row, say, wait_for, with_env  # noqa: F401

MODEL = "qwen/qwen-plus"


def hold_status(request_id: str):
    return fresh(lambda: db.session.scalars(select(Hold.status).where(Hold.request_id == request_id)).first())


def test_a_client_gone_before_the_first_byte_leaves_no_pending_hold(live_server, tenant):
    body = json.dumps({"model": MODEL, "stream": True, "messages": say("hi", delay_ms=800)}).encode()
    host, port = live_server.base_url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Authorization: Bearer {tenant.plaintext}\r\nX-Request-Id: gone-early\r\n".encode()
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(0.2)  # the gateway has placed the hold and is waiting for the provider
    gone_at = time.monotonic()
    assert wait_for(lambda: hold_status("gone-early") not in (None, "pending"), timeout=4)
    assert time.monotonic() - gone_at < 4  # at once, not at the sweep (ETHERGATE_HOLD_TTL_SECONDS later)
    assert log_row("gone-early").cancelled


@with_env(ETHERGATE_FIRST_BYTE_TIMEOUT="0.5")
def test_an_upstream_timeout_before_the_first_byte_voids_the_hold(live_server, tenant):
    from .e2e import call
    response = call(live_server, tenant.plaintext,
                    {"model": MODEL, "stream": True, "messages": say("hi", delay_ms=3000)},
                    headers={"X-Request-Id": "slow-first-byte"})
    assert response.status_code in (502, 504), response.text
    assert hold_status("slow-first-byte") == "voided"
    assert log_row("slow-first-byte").cost_micro == 0
