"""Every error leaves as JSON ``{"error": ...}`` with the right status and headers."""

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

from server.request_log import request_id
from sharer.edge_cache import EdgeCacheUnavailable
from sharer.queues import QueueUnavailable
from sharer.storage import StorageUnavailable

log = logging.getLogger("sharer.server")

# How long a client should wait before retrying after a backend outage.
RETRY_AFTER_SECONDS = 5


def error_response(status: int, message: str) -> Response:
    """A JSON error body with ``status``."""
    response = jsonify(error=message)
    response.status_code = status
    return response


def init_error_handlers(app: Flask) -> None:
    """Turn HTTP errors, backend outages and bugs into JSON answers and one log line."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        response = error_response(exc.code or 500, exc.description or exc.name)
        # Keep the exception's own headers (Allow on 405), but not its text/html type.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(StorageUnavailable)
    @app.errorhandler(QueueUnavailable)
    @app.errorhandler(EdgeCacheUnavailable)
    def _backend_down(exc: Exception) -> Response:
        log.error(
            "backend unavailable",
            extra={"request_id": request_id(), "error": repr(exc), "cause": repr(exc.__cause__)},
        )
        response = error_response(503, "the service is briefly unavailable, retry shortly")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Response:
        log.exception("unhandled error", extra={"request_id": request_id()})
        return error_response(500, InternalServerError.description)
