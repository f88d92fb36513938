"""Calling providers: pooled HTTP sessions, routes tried in priority order, failover before any byte.

A route is abandoned for the next one on a connect error, a timeout before the first byte, an
upstream 429 or 5xx, or a platform-side problem (our provider key refused, our provider balance
exhausted, upstream model unknown). A 400 about the request itself stops at once: another route
would refuse it too. Once a byte has gone to the client there is no failover.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import select

import certifi
import gevent
import gevent.monkey
import urllib3
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import connection_from_url
from urllib3.util import parse_url

from ..catalog.snapshot import CatalogSnapshot, ModelInfo, RouteInfo
from .health import HealthBoard
from .json_body import dump_json, load_json
from .providers.failures import (UpstreamFailure, classify_http_error, network_failure, timeout_failure,
                                 upstream_request_id)

READ_SIZE = 65536
# A poll with timeout 0 never blocks, so it needs no cooperative version: gevent's costs ~50 us a call.
REAL_POLL = gevent.monkey.get_original("select", "poll")
CIRCUIT_OPEN = "circuit open after repeated failures"
MAX_ERROR_BODY = 65536
# After a stream's last event the provider's end of response is normally already here; waiting this long
# for it lets the connection be reused (no new TCP, DNS and TLS set-up for the next stream).
FINISH_WAIT_SECONDS = 0.05
# The headers requests' Session sent before this module called urllib3 directly (requests cost ~0.35 ms of
# CPU per call on top of urllib3); providers see the same request as before.
BASE_HEADERS = {"User-Agent": "python-requests/2.34.2", "Accept-Encoding": "gzip, deflate", "Connection": "keep-alive"}


@dataclass
class Attempt:
    provider: str
    upstream_model: str
    status: int | None
    latency_ms: int
    error: str | None = None
    kind: str | None = None
    upstream_request_id: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class AllRoutesFailed(Exception):
    def __init__(self, failures: list[UpstreamFailure], attempts: list[Attempt], skipped: list[tuple[str, str]]):
        # skipped: (route, reason) for each route not tried, e.g. ("qwen/qwen-plus", CIRCUIT_OPEN)
        self.failures, self.attempts, self.skipped = failures, attempts, skipped
        super().__init__("; ".join(f.message for f in failures) or "no route available")


@dataclass
class Answer:
    """A non-streamed upstream answer."""
    route: RouteInfo
    body: dict
    upstream_request_id: str | None
    attempts: list[Attempt]


@dataclass
class Stream:
    """An open upstream stream whose first bytes have arrived."""
    route: RouteInfo
    response: urllib3.BaseHTTPResponse
    first: bytes
    rest: Iterator[bytes]
    upstream_request_id: str | None
    attempts: list[Attempt]
    started: float = field(default_factory=time.perf_counter)

    def close(self) -> None:
        discard(self.response, streamed=True)


def discard(response: urllib3.BaseHTTPResponse, streamed: bool) -> None:
    """Done with a response, as requests' Response.close() was: a stream's connection is closed (its end is
    never awaited); a preloaded answer's connection is already back in the pool."""
    try:
        if streamed:
            response.close()
        response.release_conn()
    except Exception:  # noqa: BLE001 (closing a broken socket must never raise)
        pass


def iter_raw(raw: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """Bytes as they arrive: one HTTP chunk at a time, or whatever one read returns."""
    if raw.chunked and raw.supports_chunked_reads():
        yield from raw.read_chunked(None, decode_content=True)
        return
    while True:
        data = raw.read1(READ_SIZE)
        if not data:
            return
        yield data


class OneWrite:
    """A pooled provider connection: one write per request, and a cheap liveness check before reuse.

    It sends a request's header block and its (bytes) body in one write instead of two.
    With TCP_NODELAY (urllib3 sets it, and it must stay: Nagle would stall the body behind a delayed ACK)
    two writes are two segments, and on loopback the sender pays for the receiver's wake-up twice.
    """

    _held: bytes | None = None
    _holding = False

    def request(self, method, url, body=None, headers=None, **options):
        self._holding = isinstance(body, bytes)
        try:
            super().request(method, url, body=body, headers=headers, **options)
            held, self._held = self._held, None
            if held is not None:  # an empty body: the header block is all there is
                super().send(held)
        finally:
            self._holding, self._held = False, None

    @property
    def is_connected(self) -> bool:
        """urllib3's check before reusing a pooled connection: readable while idle means closed by the peer."""
        if self.sock is None:
            return False
        poller = REAL_POLL()
        poller.register(self.sock, select.POLLIN)
        return not poller.poll(0)

    def send(self, data):
        if self._holding:
            if self._held is None:
                self._held = data  # the header block; the body follows
                return
            data, self._held = self._held + data, None
        super().send(data)


class OneWriteHTTPConnection(OneWrite, HTTPConnection):
    pass


class OneWriteHTTPSConnection(OneWrite, HTTPSConnection):
    pass


class Upstream:
    def __init__(self, config: dict, health: HealthBoard):
        self.keys = config["PROVIDER_KEYS"]
        self.base_overrides = config["PROVIDER_BASE_URLS"]
        self.connect_timeout = config["CONNECT_TIMEOUT"]
        self.first_byte_timeout = config["FIRST_BYTE_TIMEOUT"]
        self.idle_timeout = config["IDLE_TIMEOUT"]
        self.complete_timeout = config.get("COMPLETE_TIMEOUT", 600.0)
        self.health = health
        self._pools: dict[str, tuple[str, urllib3.HTTPConnectionPool, str]] = {}  # provider -> (url, pool, path)
        # Built once: urllib3 validates a Timeout on construction.
        self._timeouts = {False: urllib3.Timeout(connect=self.connect_timeout, read=self.complete_timeout),
                          True: urllib3.Timeout(connect=self.connect_timeout,
                                                read=max(self.first_byte_timeout, self.idle_timeout))}

    def pool(self, provider: str, url: str) -> tuple[urllib3.HTTPConnectionPool, str]:
        """The provider's keep-alive pool and the path to post to; a new pool when its URL changed."""
        found = self._pools.get(provider)
        if found is None or found[0] != url:
            # Never a proxy from the environment, the CA bundle requests used, no retries or redirects.
            tls = {"ca_certs": certifi.where()} if url.startswith("https:") else {}
            pool = connection_from_url(url, maxsize=4096, block=False, retries=False, **tls)
            pool.ConnectionCls = OneWriteHTTPSConnection if tls else OneWriteHTTPConnection
            if found is not None:
                found[1].close()  # idle connections only; in-flight ones are closed when released
            found = self._pools[provider] = (url, pool, parse_url(url).request_uri)
        return found[1], found[2]

    def url(self, snapshot: CatalogSnapshot, provider: str) -> str:
        base = self.base_overrides.get(provider) or snapshot.providers[provider].base_url
        return base.rstrip("/") + "/chat/completions"

    def configured(self, provider: str) -> bool:
        return bool(self.keys.get(provider))

    def _routes(self, model: ModelInfo, snapshot: CatalogSnapshot,
                skipped: list[tuple[str, str]]) -> Iterator[RouteInfo]:
        """Routes to try, in order; the breaker is asked only at a route's turn, as asking claims its trial."""
        for route in model.routes:
            if route.provider not in snapshot.providers or not self.configured(route.provider):
                skipped.append((route.provider, "not configured"))
            elif not self.health.allow(route.provider, route.upstream_model):
                skipped.append((f"{route.provider}/{route.upstream_model}", CIRCUIT_OPEN))
            else:
                yield route

    def _post(self, snapshot, route: RouteInfo, body: dict, stream: bool) -> urllib3.BaseHTTPResponse:
        headers = {**BASE_HEADERS, "Authorization": f"Bearer {self.keys[route.provider]}",
                   "Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        if stream:
            headers["Accept-Encoding"] = "identity"  # compressed SSE would be buffered by the decoder
        data = dump_json(body)
        pool, path = self.pool(route.provider, self.url(snapshot, route.provider))
        return pool.urlopen("POST", path, body=data, headers=headers, retries=False, redirect=False,
                            assert_same_host=False, timeout=self._timeouts[stream], preload_content=not stream)

    def _try_routes(self, model: ModelInfo, snapshot: CatalogSnapshot, build_body, stream: bool):
        skipped: list[tuple[str, str]] = []
        attempts: list[Attempt] = []
        failures: list[UpstreamFailure] = []
        for route in self._routes(model, snapshot, skipped):
            started = time.perf_counter()
            body = build_body(route)
            timer = gevent.Timeout(self.first_byte_timeout if stream else self.complete_timeout)
            timer.start()
            response = None
            try:
                response = self._post(snapshot, route, body, stream)
                if response.status != 200:
                    error_body = response.read(MAX_ERROR_BODY) if stream else response.data[:MAX_ERROR_BODY]
                    discard(response, stream)
                    failure = classify_http_error(route.provider, response.status, error_body, response.headers)
                elif stream:
                    rest = iter_raw(response)
                    first = next(rest, b"")
                    if not first:
                        discard(response, stream)
                        failure = UpstreamFailure("network", 200, "upstream closed the stream before any data",
                                                  route.provider)
                    else:
                        timer.cancel()
                        latency = int((time.perf_counter() - started) * 1000)
                        rid = upstream_request_id(route.provider, response.headers)
                        attempts.append(Attempt(route.provider, route.upstream_model, 200, latency,
                                                upstream_request_id=rid))
                        self.health.record(route.provider, route.upstream_model, True, latency)
                        return Stream(route, response, first, rest, rid, attempts, started)
                else:
                    parsed = load_json(response.data)
                    timer.cancel()
                    latency = int((time.perf_counter() - started) * 1000)
                    rid = upstream_request_id(route.provider, response.headers, parsed)
                    attempts.append(Attempt(route.provider, route.upstream_model, 200, latency,
                                            upstream_request_id=rid))
                    self.health.record(route.provider, route.upstream_model, True, latency)
                    return Answer(route, parsed, rid, attempts)
            except gevent.Timeout as exc:
                if exc is not timer:
                    raise
                failure = timeout_failure(route.provider, "first byte")
            except NewConnectionError as exc:  # a subclass of ConnectTimeoutError, but a refusal, not a timeout
                failure = network_failure(route.provider, exc)
            except (ConnectTimeoutError, ReadTimeoutError):
                failure = timeout_failure(route.provider, "connect or read")
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                failure = network_failure(route.provider, exc)
            finally:
                timer.cancel()
            if response is not None and failure.kind != "bad_request":
                discard(response, stream)
            latency = int((time.perf_counter() - started) * 1000)
            # An auth error's text can quote part of our provider key, so it never reaches a log.
            logged = failure.public_message if failure.kind == "auth" else failure.message
            attempts.append(Attempt(route.provider, route.upstream_model, failure.status, latency, logged,
                                    failure.kind, failure.upstream_request_id))
            failures.append(failure)
            # A 400 about the request says nothing bad about the route.
            self.health.record(route.provider, route.upstream_model, failure.kind == "bad_request", latency,
                               None if failure.kind == "bad_request" else logged)
            if failure.kind == "bad_request":
                break
        raise AllRoutesFailed(failures, attempts, skipped)

    def complete(self, model: ModelInfo, snapshot: CatalogSnapshot, build_body) -> Answer:
        return self._try_routes(model, snapshot, build_body, stream=False)

    def open_stream(self, model: ModelInfo, snapshot: CatalogSnapshot, build_body) -> Stream:
        return self._try_routes(model, snapshot, build_body, stream=True)

    def finish(self, stream: Stream) -> None:
        """After a stream's last event: keep its connection if the response ends at once, else close it."""
        timer = gevent.Timeout(FINISH_WAIT_SECONDS)
        timer.start()
        try:
            ended = next(stream.rest, b"") == b""  # anything more than the end means the connection is unsafe
        except BaseException:  # noqa: BLE001 (the timer, or a broken socket: the connection is not reused)
            ended = False
        finally:
            timer.cancel()
        if ended:
            stream.response.release_conn()
        else:
            stream.close()

    def read_next(self, stream: Stream) -> bytes:
        """The next bytes of an open stream, or b'' at its end; raises on an idle gap or a broken socket."""
        timer = gevent.Timeout(self.idle_timeout)
        timer.start()
        try:
            return next(stream.rest, b"")
        finally:
            timer.cancel()
