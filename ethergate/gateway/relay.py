"""Relaying an upstream SSE stream to the client as it arrives, then billing what happened.

Outcomes: completed (usage from the provider, or a stated estimate if it sent none), cut by the
upstream after some content (an error event goes to the client and the request is logged as a failed
502; the content the client did receive is billed on usage if known, else on the estimate), cancelled
by the client (the upstream is closed at once; billed the same way), or failed before any content
(the hold is voided: it costs nothing). A response closed before its body was read voids the hold too.
"""
from __future__ import annotations

import time

import gevent
from flask import current_app

from ..observability import phases
from ..observability.metrics import stream_closed, stream_opened
from . import disconnect
from .errors import GatewayError
from .json_body import load_json
from .providers.adapters import StreamTranslator
from .providers.sse import SSEParser


class Relay:
    """`render` writes the client's API shape: start(), feed(chunk), keepalive(comment), finish(), fail(error)."""

    def __init__(self, upstream, stream, public_model: str, include_usage: bool, billing, environ: dict, render):
        self.upstream, self.stream, self.billing, self.environ = upstream, stream, billing, environ
        self.render, self.charge = render, billing.charge
        self.translator = StreamTranslator(stream.route.provider, public_model, include_usage)
        self.parser = SSEParser()
        self.cancelled = False
        self.done = False
        self.failure: str | None = None
        self.ttft_ms: int | None = None
        self.started = False
        self.receipt = None
        self.app = current_app._get_current_object()
        billing.streaming = True

    def _client_gone(self) -> None:
        self.cancelled = True
        self.stream.close()

    def _error_event(self, message: str) -> bytes:
        return self.render.fail(GatewayError(502, "provider_request_failed", message, "api_error",
                                             provider=self.stream.route.provider))

    def _translate(self, data: bytes):
        # Empty data means the upstream finished: flush a last event that had no blank line after it.
        events = self.parser.feed(data) if data else self.parser.close()
        for event in events:
            if event.kind == "comment":
                yield self.render.keepalive(event.value or "keep-alive")
                continue
            if event.value.strip() == "[DONE]":
                self.done = True
                for chunk in self.translator.finish():
                    # The usage chunk carries the receipt; the capture bills these same numbers.
                    self.receipt = self.billing.price(self.translator.usage, False)
                    chunk["usage"].update(self.receipt.usage_fields(self.billing.currency))
                    yield self.render.feed(chunk)
                # Billed before the last event: a client that looks its request up on seeing it finds it.
                self._settle()
                yield self.render.finish()
                return
            try:
                payload = load_json(event.value)
            except ValueError:
                self.failure = "the provider sent a malformed stream event"
                yield self._error_event(f"{self.stream.route.provider}: {self.failure}")
                return
            if isinstance(payload, dict) and payload.get("error"):
                detail = payload["error"]
                message = detail.get("message") if isinstance(detail, dict) else str(detail)
                self.failure = f"the provider reported an error mid-stream: {message}"[:500]
                yield self._error_event(f"{self.stream.route.provider}: {self.failure}")
                return
            for chunk in self.translator.feed(payload):
                if self.ttft_ms is None:
                    self.ttft_ms = int((time.perf_counter() - self.charge.started) * 1000)
                yield self.render.feed(chunk)

    def abandon(self) -> None:
        """The response was closed without its body ever being read: nothing reached the client."""
        if self.started or self.billing.resolved:
            return
        self.stream.close()
        route = self.stream.route
        with self.app.app_context():
            self.billing.void(status_code=499, error_code="client_cancelled", cancelled=True,
                              error_message="the response was closed before its first byte was sent",
                              provider=route.provider, upstream_model=route.upstream_model,
                              attempts=[a.to_dict() for a in self.stream.attempts])

    def events(self):
        self.started = True
        watcher = disconnect.watch(self.environ, self._client_gone)
        stream_opened()
        try:
            # The surface's opening event goes out before the provider's first token, so no proxy waits on it.
            opening = self.render.start()
            if opening:
                yield opening
            data = self.stream.first
            while data and not self.cancelled:
                for out in self._translate(data):
                    yield out
                if self.done or self.failure:
                    break
                data = self.upstream.read_next(self.stream)
            if not (self.done or self.failure or self.cancelled):
                for out in self._translate(b""):
                    yield out
            if not (self.done or self.failure or self.cancelled):
                self.failure = "the provider closed the stream before it finished"
                yield self._error_event(f"{self.stream.route.provider}: {self.failure}")
        except GeneratorExit:
            self.cancelled = True
            raise
        except gevent.Timeout:
            if not self.cancelled:
                self.failure = f"no data from the provider for {self.upstream.idle_timeout:g} s"
                yield self._error_event(f"{self.stream.route.provider}: {self.failure}")
        except Exception as exc:  # noqa: BLE001 (a broken upstream socket surfaces as many exception types)
            if not self.cancelled:
                self.failure = f"the connection to the provider broke: {type(exc).__name__}"  # for the log row
                yield self._error_event(f"{self.stream.route.provider}: the connection to the provider broke")
        finally:
            stream_closed()
            disconnect.stop(watcher)  # at once: nothing calls back after this, once the upstream may be pooled
            if self.done and not self.cancelled:
                self.upstream.finish(self.stream)
            else:
                self.stream.close()
            self._settle()

    def _settle(self) -> None:
        if self.billing.resolved:
            return
        translator, route = self.translator, self.stream.route
        # The client saw an error event after the 200: the request failed, as a 502 before the first byte would.
        fields = dict(status_code=502 if self.failure else 200, provider=route.provider,
                      upstream_model=route.upstream_model,
                      upstream_request_id=self.stream.upstream_request_id or translator.upstream_id,
                      attempts=[a.to_dict() for a in self.stream.attempts], ttft_ms=self.ttft_ms,
                      cancelled=self.cancelled and not self.done)
        if self.failure:
            fields.update(error_code="provider_request_failed", error_message=self.failure)
        elif fields["cancelled"]:
            fields.update(error_code="client_cancelled", error_message="the client closed the connection")
        try:
            usage = translator.usage
            if usage is not None:
                self.billing.capture(self.receipt or self.billing.price(usage, False), **fields)
            elif translator.content_chars:  # a role-only first chunk delivered nothing worth billing
                self.billing.capture(self.billing.price(self.billing.estimate(translator.content_chars), True),
                                     **fields)
            else:
                self.billing.void(**fields)
        except Exception:  # noqa: BLE001 (the hold expires and the sweep releases it)
            current_app.logger.exception("settling stream %s failed", self.charge.request_id)
        phases.mark(self.environ, "capture")
