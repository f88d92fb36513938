"""App-wide error pages: the envelope of the API surface under /v1, a readable page everywhere else."""
from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/v1/") or request.path == "/v1":
            from .gateway.lifecycle import api_error_response
            return api_error_response(error)
        return render_template("errors/error.html", error=error), error.code

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/v1/"):
            from .gateway.lifecycle import internal_error_response
            return internal_error_response()
        wrapped = InternalServerError()
        return render_template("errors/error.html", error=wrapped), 500
