"""What the gevent WSGI server (wsgi.py) does differently from gevent's defaults, for the /v1 hot path."""
from __future__ import annotations

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
