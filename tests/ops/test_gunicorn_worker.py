"""gunicorn's workers serve like `python wsgi.py`: one write per small response, keep-alive, streams, hang-ups.

gunicorn.conf.py runs gunicorn's pywsgi worker with ethergate.serving's handler (ethergate.serving.use_in_worker).
"""
from __future__ import annotations

import json
import signal
import socket
import struct
import time

import pytest
import requests
from sqlalchemy import select

from ethergate.extensions import db
from ethergate.usage.models import RequestLog
from tests.ops.servers import directive, fresh, read_stream, wait_until

PLUS = "qwen/qwen-plus"
TCP_INFO_DATA_SEGS_IN = 152  # offset of tcpi_data_segs_in in Linux's struct tcp_info (kernel 4.6 and later)


def data_segments_received(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    return struct.unpack_from("I", info, TCP_INFO_DATA_SEGS_IN)[0]


def read_response(sock: socket.socket) -> tuple[bytes, dict, bytes]:
    """(status line, lower-cased headers, body) of one Content-Length response."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {buffer!r}"
        buffer += chunk
    head, body = buffer.split(b"\r\n\r\n", 1)
    status, *lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(b":", 1) for line in lines)}
    while len(body) < int(headers[b"content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return status, headers, body


def chat_request(key: str, request_id: str) -> bytes:
    body = json.dumps({"model": PLUS, "messages": directive("hi")}).encode()
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {key}\r\n"
            f"X-Request-Id: {request_id}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.fixture
def gunicorn(gunicorn_factory):
    def start(extra_env: dict | None = None):
        return gunicorn_factory(extra_env, workers=1)
    return start


def test_a_small_answer_leaves_in_one_segment_on_a_reused_connection(gunicorn, factories_for):
    server = gunicorn()
    tenant = factories_for(server).tenant(credits="100.00", rpm_limit=1000)
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        for n in range(3):
            before = data_segments_received(sock)
            sock.sendall(chat_request(tenant.plaintext, f"ops-one-write-{n}"))
            status, headers, body = read_response(sock)
            assert status == b"HTTP/1.1 200 OK", body[:300]
            assert headers[b"x-request-id"] == f"ops-one-write-{n}".encode()
            assert json.loads(body)["choices"][0]["message"]["content"]
            assert data_segments_received(sock) - before == 1, "status line, headers and body in one segment"
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert read_response(sock)[0] == b"HTTP/1.1 200 OK"  # still the same connection
    # No ETHERGATE_PUBLIC_BASE_URL: installers name the address this instance binds.
    script = requests.get(server.url + "/console/skills/ethergate-provider/install.sh", timeout=10).text
    assert f"ETHERGATE_PUBLIC_URL='{server.url}'" in script


def test_a_stream_is_relayed_and_a_hang_up_closes_its_upstream(gunicorn, factories_for, fake_upstream):
    server = gunicorn()
    tenant = factories_for(server).tenant(credits="100.00", rpm_limit=1000)
    url = server.base_url + "/chat/completions"
    auth = {"Authorization": f"Bearer {tenant.plaintext}"}
    with requests.post(url, headers=auth, stream=True, timeout=20,
                       json={"model": PLUS, "stream": True, "messages": directive("hi", chunks=4)}) as whole:
        assert whole.status_code == 200 and whole.headers["Content-Type"].startswith("text/event-stream")
        result = read_stream(whole)
    assert result["done"] and result["error"] is None and result["text"]

    response = requests.post(url, headers={**auth, "X-Request-Id": "ops-hang-up"}, stream=True, timeout=20,
                             json={"model": PLUS, "stream": True,
                                   "messages": directive("hi", gap_ms=300, chunks=40)})
    lines = (line for line in response.iter_lines() if line.startswith(b"data: "))
    assert next(lines) and next(lines)
    response.close()
    closed_at = time.monotonic()
    assert wait_until(lambda: fake_upstream.requests()[-1]["closed_by_client"], timeout=1.5)
    assert time.monotonic() - closed_at < 1.0

    def settled():
        return fresh(lambda: db.session.scalars(select(RequestLog).filter_by(request_id="ops-hang-up")).first())
    row = wait_until(settled, timeout=3)
    assert row is not None and (row.cancelled, row.error_code) == (True, "client_cancelled")


def test_an_idle_keep_alive_connection_is_closed(gunicorn, factories_for):
    # The limit is gunicorn's keepalive (5 s in gunicorn.conf.py); 1 s here to keep the test short.
    server = gunicorn({"GUNICORN_CMD_ARGS": "--keep-alive 1"})
    tenant = factories_for(server).tenant(credits="100.00", rpm_limit=1000)
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as silent:
        assert closed_by_server(silent, timeout=5), "a connection that never sends a request is closed"

    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as idle:
        idle.sendall(chat_request(tenant.plaintext, "ops-idle"))
        assert read_response(idle)[0] == b"HTTP/1.1 200 OK"
        assert not closed_by_server(idle, timeout=0.3)
        assert closed_by_server(idle, timeout=5), "an idle keep-alive connection is closed"


def test_an_idle_keep_alive_connection_does_not_hold_up_shutdown(gunicorn, factories_for):
    # Keep-alive and grace far above the bound below: a worker that waited on the idle connection would
    # take two minutes to stop, one that closes it at shutdown takes about a second (its signal check).
    server = gunicorn({"GUNICORN_CMD_ARGS": "--keep-alive 120", "ETHERGATE_SHUTDOWN_GRACE_SECONDS": "120"})
    tenant = factories_for(server).tenant(credits="100.00", rpm_limit=1000)
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as idle:
        idle.sendall(chat_request(tenant.plaintext, "ops-idle-at-shutdown"))
        assert read_response(idle)[0] == b"HTTP/1.1 200 OK"
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert closed_by_server(idle, timeout=30)
        assert server.process.wait(timeout=30) == 0
    assert time.monotonic() - signalled < 30
