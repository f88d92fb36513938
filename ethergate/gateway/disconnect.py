"""Notice a client that went away while its stream waits on a slow upstream.

A write to a closed socket only fails at the next chunk; watching the socket lets the gateway close
the upstream at once, so neither side keeps generating (and billing) tokens nobody reads.

The watch is an event-loop read watcher on the client's socket, stopped the moment the stream ends, before
the server can close that socket or read the connection's next request from it. (A greenlet waiting on the
file descriptor, stopped by a kill that lands a turn later, could outlive the socket: its watcher then
met a closed or reused descriptor, which stops the event loop, the whole process, with a libev assertion.)
"""
from __future__ import annotations

import socket

import gevent
from gevent import get_hub

READ = 1  # libev's EV_READ


def client_socket(environ: dict):
    return environ.get("ethergate.client_socket") or environ.get("gunicorn.socket")


class Watch:
    """Calls `on_disconnect` once if the client hangs up before `stop()`; nothing at all after it."""

    __slots__ = ("sock", "on_disconnect", "io", "checker", "stopped")

    def __init__(self, sock, on_disconnect):
        self.sock, self.on_disconnect = sock, on_disconnect
        self.checker: gevent.Greenlet | None = None
        self.stopped = False
        self.io = get_hub().loop.io(sock.fileno(), READ)
        self.io.start(self._readable)

    def _readable(self) -> None:
        # Runs in the event loop itself, which must not block: the look at the socket gets a greenlet.
        self.io.stop()
        if not self.stopped:
            self.checker = gevent.spawn(self._check)

    def _check(self) -> None:
        if self.stopped:
            return
        try:
            gone = self.sock.recv(1, socket.MSG_PEEK) == b""  # readable with nothing to read: the peer closed
        except (OSError, ValueError):
            gone = True
        if gone and not self.stopped:
            self.on_disconnect()

    def stop(self) -> None:
        self.stopped = True
        self.io.stop()
        self.io.close()
        if self.checker is not None and not self.checker.dead:
            self.checker.kill(block=False)


def watch(environ: dict, on_disconnect) -> Watch | None:
    sock = client_socket(environ)
    if sock is None:
        return None
    try:
        return Watch(sock, on_disconnect)
    except (OSError, ValueError):  # the socket is already closed: the client is gone
        on_disconnect()
        return None


def stop(watcher: Watch | None) -> None:
    if watcher is not None:
        watcher.stop()
