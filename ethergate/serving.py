"""How EtherGate's servers write responses, for the /v1 hot path.

`OneWriteResponses` is what both servers do differently from gevent's defaults. `python wsgi.py` mixes it into
its own handler; gunicorn serves with gunicorn's pywsgi worker and `use_in_worker` below (called from
gunicorn.conf.py's post_worker_init, in the worker, after gevent patched it: importing this module imports
the ethergate package, hence Flask, which the master must not import).
"""
from __future__ import annotations

import gc
import logging
import socket
import time
from functools import partial

import gevent
from gunicorn.workers.ggevent import PyWSGIHandler, PyWSGIServer

from .observability import phases

# A timer, not sleep(0): gevent runs sleep(0) callbacks before the loop polls (and keeps running them for up to
# 50 callbacks between clock checks), a due timer only after it, beside the I/O the poll found ready.
FAIR_TURN_SECONDS = 1e-6
# Below the default (0): the loop first resumes requests already under way (a provider's answer came in),
# then starts the next ones. Measured at c32: p99/p50 3.1x against 3.9x at the default priority.
FAIR_TURN_PRIORITY = -1


class FairTurns:
    """A WSGIHandler mixin: between two requests on a keep-alive connection, every other ready greenlet runs first.

    A client that sends its next request as soon as it has the answer finds the handler reading again a
    few microseconds later, with the bytes already there: without a yield that handler serves request
    after request while the event loop never polls, and requests waiting on a provider's answer wait
    behind them (measured at c32: the upstream phase's p99 at 1 s against a p50 of 0.5 ms). A timer already
    due puts this greenlet behind everything the loop's next poll finds ready.
    """

    requests_served = 0

    def read_requestline(self):
        if self.requests_served:
            hub = gevent.get_hub()
            with hub.loop.timer(FAIR_TURN_SECONDS, priority=FAIR_TURN_PRIORITY) as turn:
                hub.wait(turn)
        self.requests_served += 1
        return super().read_requestline()


# Above this a body is sent on its own, as gevent does: copying it behind the headers would cost more than a write.
COALESCE_LIMIT = 65536


class OneWriteResponses:
    """A WSGIHandler mixin: the status line, headers and first body chunk leave in one write.

    gevent writes the header block and the first chunk separately. With TCP_NODELAY (required: without it
    keep-alive responses stall on Nagle and delayed ACK) that is two segments and two wake-ups of the client
    for every small JSON answer, and for the first event of every stream.
    """

    _held = None
    _holding = False

    def _write_with_headers(self, data):
        self._holding = len(data) <= COALESCE_LIMIT
        try:
            super()._write_with_headers(data)
            held, self._held = self._held, None
            if held is not None:  # an empty body: the header block is all there is
                super()._sendall(held)
        finally:
            self._holding, self._held = False, None

    def _sendall(self, data):
        if self._holding:
            if self._held is None:
                self._held = data  # the header block; the first chunk follows
                return
            data, self._held = self._held + data, None
            self._holding = False
        super()._sendall(data)


class GunicornHandler(OneWriteResponses, FairTurns, PyWSGIHandler):
    """gunicorn's pywsgi handler writing like wsgi.py's, with what gunicorn's own keep-alive loop did.

    TCP_NODELAY needs nothing here: gunicorn sets it on the listener and Linux copies it to accepted sockets.
    """

    def get_environ(self):
        environ = super().get_environ()
        environ["ethergate.client_socket"] = self.socket  # lets a stream notice a vanished client
        if phases.PATH:
            phases.begin(environ, None, self.read_at)
        return environ

    def read_requestline(self):
        # As in gunicorn's gevent worker: `keepalive` seconds to start each request, and no new request once
        # the worker is shutting down (an in-flight response finishes, then its connection closes).
        server = self.server
        if server.closed:
            return ""
        line = ""
        server.idle.add(self)
        try:
            with gevent.Timeout(server.keepalive, False):
                line = super().read_requestline()
        finally:
            server.idle.discard(self)
            if phases.PATH:
                self.read_at = time.perf_counter()
        return line

    def log_request(self):
        if phases.PATH:
            phases.finish(self.environ)
        if self.server.log.access_log_enabled:  # off (accesslog = None): the app writes its own access lines
            super().log_request()


class GunicornServer(PyWSGIServer):
    def __init__(self, *args, log, keepalive, **kwargs):
        # pywsgi's own error lines (malformed requests and the like) go to gunicorn's JSON error log.
        super().__init__(*args, log=log, error_log=log.error_log, **kwargs)
        # gunicorn's keepalive 0 (no keep-alive) lifts the limit here: a 0 s timeout would fail every read.
        self.keepalive = keepalive or None
        self.idle = set()  # handlers waiting for the next request on a keep-alive connection

    def close(self):
        # The worker is stopping: stop accepting and end idle keep-alive connections at once, so only
        # in-flight requests keep it (up to graceful_timeout).
        super().close()
        for handler in list(self.idle):
            try:
                handler.socket.shutdown(socket.SHUT_RD)  # wakes its read with EOF
            except (AttributeError, OSError):
                pass


def use_in_worker(worker) -> None:
    """Serve a gunicorn `GeventPyWSGIWorker` with the classes above; call before its run() starts serving.

    gunicorn's default gevent worker sends headers and body in two writes; its pywsgi worker runs gevent's
    server, as wsgi.py does, so it can write like wsgi.py.
    """
    worker.wsgi_handler = GunicornHandler
    worker.server_class = partial(GunicornServer, keepalive=worker.cfg.keepalive)


def freeze_startup_objects() -> int:
    """Leave everything alive at start out of the garbage collector's full collections; returns how many.

    A full (generation 2) collection walks every tracked object while the event loop stands still. With the
    app, its libraries and the catalog loaded, that walk took 86-103 ms, about once a second at c32, and those
    pauses were the c32 tail: the slowest 1% of requests spent ~95 ms in a hold or a capture that otherwise
    takes ~15. Frozen, a full collection walks only what was made since start: 4-10 ms. Call it last before
    serving (wsgi.py, gunicorn.conf.py's post_worker_init); objects made later are collected as before.
    """
    gc.collect()  # garbage frozen now would stay for the life of the process
    gc.freeze()
    frozen = gc.get_freeze_count()
    logging.getLogger(__name__).info("%d objects alive at start left out of full garbage collections", frozen)
    return frozen
