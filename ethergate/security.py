"""Browser-facing security: CSRF, session cookies and security headers.

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

Sign-in throttling lives with the accounts (accounts/throttle.py).
"""
from __future__ import annotations

from flask import Flask, render_template, request
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
