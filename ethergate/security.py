"""Browser-facing security: CSRF, session cookies, security headers and login throttling.

CSRF: `csrf` is the app's Flask-WTF CSRFProtect. Every POST/PUT/PATCH/DELETE needs the session's
token, sent as the `csrf_token` form field or the `X-CSRFToken` header (base.html puts the header in
`hx-headers` on <body>, so every htmx request carries it). Machine-to-machine endpoints opt out:

* whole blueprints, by name, in CSRF_EXEMPT_BLUEPRINTS (the /v1 gateway is one);
* a single view, e.g. a payment webhook that authenticates by signature::

      from ethergate.security import csrf

      @bp.post("/webhooks/stripe")
      @csrf.exempt
      def stripe_webhook(): ...

Headers: console and site responses get a strict CSP (scripts and styles from this origin only, so
templates never use inline <script>, <style> or style="..."), nosniff, DENY framing and a
same-origin referrer policy. /v1 stays lean: the gateway blueprint gets none of them.

Login throttling: see LoginThrottle. The same counters cover the two-factor step (a wrong code counts
as a failed sign-in); password-reset requests have their own (`reset_throttle`).
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable, Protocol

from flask import Flask, current_app, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

csrf = CSRFProtect()

CSRF_EXEMPT_BLUEPRINTS = ("gateway",)
LEAN_BLUEPRINTS = ("gateway",)
LEAN_PATH_PREFIX = "/v1"

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without their per-request set-up when no session cookie was sent.

    Programs calling /v1 never send one; building the signing serializer and reading the cookie settings
    for them cost ~3% of a request. A session they (or a signed-out visitor) start is saved as usual.
    """

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        if session or session.modified or session.accessed:
            super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    """Call after every blueprint is registered: exemptions are looked up by blueprint name."""
    app.session_interface = CookieSessions()
    # Flask's defaults already hold these keys, so setdefault() would not change them.
    if app.config.get("SESSION_COOKIE_NAME") in (None, "session"):
        app.config["SESSION_COOKIE_NAME"] = "ethergate_session"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    if app.config["PUBLIC_BASE_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config["SESSION_COOKIE_SECURE"])
    # The token is bound to the session already; a time limit would only break pages left open for an hour.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    for name in CSRF_EXEMPT_BLUEPRINTS:
        if name in app.blueprints:
            csrf.exempt(app.blueprints[name])
    app.after_request(add_security_headers)
    app.register_error_handler(CSRFError, csrf_failed)
    store = MemoryAttemptStore()
    if app.config.get("REDIS_URL"):
        from .accounts.throttle_store import RedisAttemptStore
        store = RedisAttemptStore(app.config["REDIS_URL"], fallback=store)
    app.extensions["ethergate.login_throttle"] = LoginThrottle(
        store, per_email=app.config.get("LOGIN_FAILURES_PER_EMAIL", 5),
        per_ip=app.config.get("LOGIN_FAILURES_PER_IP", 20),
        window=app.config.get("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60))
    # Password-reset requests count every request (each may send an email), apart from sign-in failures.
    app.extensions["ethergate.reset_throttle"] = LoginThrottle(
        PrefixedStore(store, "reset:"), per_email=app.config.get("RESET_REQUESTS_PER_EMAIL", 3),
        per_ip=app.config.get("RESET_REQUESTS_PER_IP", 20),
        window=app.config.get("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60))


def add_security_headers(response):
    if request.blueprint in LEAN_BLUEPRINTS or request.path == LEAN_PATH_PREFIX \
            or request.path.startswith(LEAN_PATH_PREFIX + "/"):
        return response
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def csrf_failed(error: CSRFError):
    from flask_babel import gettext as _
    message = _("This form expired or was sent from another page. Reload the page and try again.")
    return render_template("errors/error.html", error=error, message=message), 400


class AttemptStore(Protocol):
    """Where failed attempts are counted: per process, or in Redis (accounts/throttle_store.py) when configured."""

    def recent(self, key: str, window: float) -> tuple[int, float]:
        """(failures in the last `window` seconds, seconds until the oldest of them leaves the window)."""

    def add(self, key: str, window: float) -> None:
        """Record one failure now."""

    def clear(self, key: str) -> None:
        """Forget every failure of `key`."""


class MemoryAttemptStore:
    """Per-process sliding windows: the store without Redis, and the fallback while Redis is down."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.clock = clock
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: str, window: float, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - window:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def recent(self, key: str, window: float) -> tuple[int, float]:
        with self._lock:
            now = self.clock()
            events = self._trim(key, window, now)
            if not events:
                return 0, 0.0
            return len(events), events[0] + window - now

    def add(self, key: str, window: float) -> None:
        with self._lock:
            now = self.clock()
            if key not in self._events and len(self._events) >= self.max_keys:
                # A flood of distinct keys: drop the stalest rather than grow without bound.
                for stale in list(self._events)[: self.max_keys // 10 or 1]:
                    del self._events[stale]
            events = self._trim(key, window, now) or self._events.setdefault(key, deque())
            events.append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


class PrefixedStore:
    """Another set of counters in the same store."""

    def __init__(self, store: AttemptStore, prefix: str):
        self.store, self.prefix = store, prefix

    def recent(self, key: str, window: float) -> tuple[int, float]:
        return self.store.recent(self.prefix + key, window)

    def add(self, key: str, window: float) -> None:
        self.store.add(self.prefix + key, window)

    def clear(self, key: str) -> None:
        self.store.clear(self.prefix + key)


class LoginThrottle:
    """At most `per_email` failed sign-ins per email and `per_ip` per client IP in a sliding window.

    Once a limit is reached every attempt is refused, even with the right password, until the oldest
    failure leaves the window; refused attempts are not counted, so the wait never grows. A successful
    sign-in clears the email's count (not the IP's: one right password must not reset a spray).
    """

    def __init__(self, store: AttemptStore, per_email: int = 5, per_ip: int = 20, window: float = 15 * 60):
        self.store, self.per_email, self.per_ip, self.window = store, per_email, per_ip, window

    def retry_after(self, email: str, ip: str | None) -> float:
        """0 when an attempt may proceed, else the seconds to wait."""
        waits = [0.0]
        for key, limit in self._keys(email, ip):
            count, wait = self.store.recent(key, self.window)
            if count >= limit:
                waits.append(wait)
        return max(waits)

    def failed(self, email: str, ip: str | None) -> None:
        for key, _limit in self._keys(email, ip):
            self.store.add(key, self.window)

    def succeeded(self, email: str) -> None:
        self.store.clear("email:" + email)

    def _keys(self, email: str, ip: str | None) -> list[tuple[str, int]]:
        keys = [("email:" + email, self.per_email)]
        if ip:
            keys.append(("ip:" + ip, self.per_ip))
        return keys


def login_throttle() -> LoginThrottle:
    return current_app.extensions["ethergate.login_throttle"]


def reset_throttle() -> LoginThrottle:
    return current_app.extensions["ethergate.reset_throttle"]


def minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))
