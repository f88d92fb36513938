"""One /v1 request as the gateway carries it from the first byte in to the log row: who asked, on which API
surface, for which model, what was held, which providers were tried, and how it ended.

Every field of the request's log row is set on this object; the row itself is written once, either alone
(`write_log`) or inside the ledger transaction that resolves the hold (`row` via metering.Billing).
"""
from __future__ import annotations

import time

from flask import current_app, request

from ..usage.recorder import log_values, record_request


class RequestCharge:
    def __init__(self, request_id: str, surface, *, method: str, path: str, client_ip: str | None,
                 user_agent: str | None):
        self.started = time.perf_counter()
        self.request_id, self.surface = request_id, surface
        self.method, self.path, self.client_ip, self.user_agent = method, path, client_ip, user_agent
        self.key = None             # keys.auth.AuthenticatedKey once admitted
        self.rate = None            # the request-limit result, for the X-RateLimit-* headers
        self.model_id: str | None = None
        self.stream = False
        self.hold_id: int | None = None
        self.billing = None         # metering.Billing once credits are held: it resolves the hold
        self.receipt = None         # metering.Receipt once billed
        self.provider: str | None = None
        self.attempts: list[dict] | None = None
        self.error_code: str | None = None
        self.error_message: str | None = None
        self.status_code: int | None = None
        self.logged = False

    @classmethod
    def begin(cls, request_id: str, surface) -> "RequestCharge":
        """Read from the request now: a stream's row is written after the request context is gone."""
        return cls(request_id, surface, method=request.method, path=request.path[:255],
                   client_ip=(request.remote_addr or "")[:64] or None, user_agent=request.headers.get("User-Agent"))

    def refused(self, error) -> None:
        self.error_code, self.error_message = error.code, error.message
        if error.provider:
            self.provider = self.provider or error.provider

    def row(self, status_code: int, usage=None, **fields) -> dict:
        """The request's log row; the caller writes it, and this charge counts as logged from now on."""
        self.logged, self.status_code = True, status_code
        key = self.key
        values = dict(request_id=self.request_id, method=self.method, path=self.path, client_ip=self.client_ip,
                      user_agent=self.user_agent, surface=self.surface.name,
                      latency_ms=int((time.perf_counter() - self.started) * 1000),
                      workspace_id=key.workspace_id if key else None, api_key_id=key.id if key else None,
                      model_id=self.model_id, stream=self.stream, hold_id=self.hold_id, provider=self.provider,
                      attempts=self.attempts, error_code=self.error_code, error_message=self.error_message,
                      status_code=status_code)
        values.update(fields)
        if usage is not None:
            values.update(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                          cached_tokens=usage.cached_tokens, reasoning_tokens=usage.reasoning_tokens)
        return log_values(**values)

    def write_log(self, status_code: int, **fields) -> None:
        """The row of a request that held no credits (or whose billing wrote none); at most once."""
        if self.logged:
            return
        try:
            record_request(self.row(status_code, **fields))
        except Exception:  # noqa: BLE001 (a log row must never turn an answer into a 500)
            current_app.logger.exception("request log write failed")
