"""Calling providers: pooled HTTP sessions, routes tried in priority order, failover before any byte.

A route is abandoned for the next one on a connect error, a timeout before the first byte, an
upstream 429 or 5xx, or a platform-side problem (our provider key refused, our provider balance
exhausted, upstream model unknown). A 400 about the request itself stops at once: another route
would refuse it too. Once a byte has gone to the client there is no failover.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Iterator

import gevent
import requests
from requests.adapters import HTTPAdapter

from ..catalog.snapshot import CatalogSnapshot, ModelInfo, RouteInfo
from .health import HealthBoard
from .providers.failures import (UpstreamFailure, classify_http_error, network_failure, timeout_failure,
                                 upstream_request_id)

READ_SIZE = 65536
CIRCUIT_OPEN = "circuit open after repeated failures"
MAX_ERROR_BODY = 65536


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
    response: requests.Response
    first: bytes
    rest: Iterator[bytes]
    upstream_request_id: str | None
    attempts: list[Attempt]
    started: float = field(default_factory=time.perf_counter)

    def close(self) -> None:
        try:
            self.response.close()
        except Exception:  # noqa: BLE001 (closing a broken socket must never raise)
            pass


def iter_raw(response: requests.Response) -> Iterator[bytes]:
    """Bytes as they arrive: one HTTP chunk at a time, or whatever one read returns."""
    raw = response.raw
    if raw.chunked and raw.supports_chunked_reads():
        yield from raw.read_chunked(None, decode_content=True)
        return
    while True:
        data = raw.read1(READ_SIZE)
        if not data:
            return
        yield data


class Upstream:
    def __init__(self, config: dict, health: HealthBoard):
        self.keys = config["PROVIDER_KEYS"]
        self.base_overrides = config["PROVIDER_BASE_URLS"]
        self.connect_timeout = config["CONNECT_TIMEOUT"]
        self.first_byte_timeout = config["FIRST_BYTE_TIMEOUT"]
        self.idle_timeout = config["IDLE_TIMEOUT"]
        self.complete_timeout = config.get("COMPLETE_TIMEOUT", 600.0)
        self.health = health
        self._sessions: dict[str, requests.Session] = {}

    def session(self, provider: str) -> requests.Session:
        session = self._sessions.get(provider)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # provider traffic never goes through a developer's proxy settings
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=4096, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._sessions[provider] = session
        return session

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

    def _post(self, snapshot, route: RouteInfo, body: dict, stream: bool, timeout: float) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.keys[route.provider]}", "Content-Type": "application/json",
                   "Accept": "text/event-stream" if stream else "application/json"}
        if stream:
            headers["Accept-Encoding"] = "identity"  # compressed SSE would be buffered by the decoder
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self.session(route.provider).post(
            self.url(snapshot, route.provider), data=data, headers=headers, stream=stream,
            timeout=(self.connect_timeout, timeout))

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
                response = self._post(snapshot, route, body, stream,
                                      max(self.first_byte_timeout, self.idle_timeout) if stream
                                      else self.complete_timeout)
                if response.status_code != 200:
                    error_body = response.raw.read(MAX_ERROR_BODY) if stream else response.content[:MAX_ERROR_BODY]
                    response.close()
                    failure = classify_http_error(route.provider, response.status_code, error_body, response.headers)
                elif stream:
                    rest = iter_raw(response)
                    first = next(rest, b"")
                    if not first:
                        response.close()
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
                    parsed = response.json()
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
            except requests.Timeout:
                failure = timeout_failure(route.provider, "connect or read")
            except (requests.RequestException, OSError, ValueError) as exc:
                failure = network_failure(route.provider, exc)
            finally:
                timer.cancel()
            if response is not None and failure.kind != "bad_request":
                response.close()
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

    def read_next(self, stream: Stream) -> bytes:
        """The next bytes of an open stream, or b'' at its end; raises on an idle gap or a broken socket."""
        timer = gevent.Timeout(self.idle_timeout)
        timer.start()
        try:
            return next(stream.rest, b"")
        finally:
            timer.cancel()
