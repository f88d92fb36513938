"""Notice a client that went away while its stream waits on a slow upstream.

A write to a closed socket only fails at the next chunk; watching the socket lets the gateway close
the upstream at once, so neither side keeps generating (and billing) tokens nobody reads.
"""
from __future__ import annotations

import socket

import gevent
from gevent.socket import wait_read


def client_socket(environ: dict):
    return environ.get("ethergate.client_socket") or environ.get("gunicorn.socket")


def watch(environ: dict, on_disconnect) -> gevent.Greenlet | None:
    sock = client_socket(environ)
    if sock is None:
        return None

    def run():
        try:
            wait_read(sock.fileno())
            if sock.recv(1, socket.MSG_PEEK) == b"":
                on_disconnect()
        except (OSError, ValueError):
            on_disconnect()

    return gevent.spawn(run)


def stop(watcher: gevent.Greenlet | None) -> None:
    if watcher is not None and not watcher.dead:
        watcher.kill(block=False)
