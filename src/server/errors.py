"""Every error leaves as JSON ``{"error": ...}`` with the right status and headers."""

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

from server.proof_slots import ProofsBusy
from server.request_log import request_id
from sharer.api_keys import ApiKeyStoreUnavailable
from sharer.edge_cache import EdgeCacheUnavailable
from sharer.queues import QueueUnavailable
from sharer.quota_counters import QuotaStoreUnavailable
from sharer.sqlite_store import SqliteStoreUnavailable
from sharer.storage import StorageUnavailable

log = logging.getLogger("sharer.server")

# How long a client should wait before retrying after a backend outage.
RETRY_AFTER_SECONDS = 5


# An error is true only now (a pending thumbnail, an outage, a busy process): no cache
# may keep one, whatever heuristic freshness it would give a 404 or 410 (RFC 9111 4.2.2).
ERROR_CACHE_CONTROL = "no-store"


def error_response(status: int, message: str) -> Response:
    """A JSON error body with ``status``, which no cache may keep."""
    response = jsonify(error=message)
    response.status_code = status
    response.headers["Cache-Control"] = ERROR_CACHE_CONTROL
    return response


def http_error_response(exc: HTTPException) -> Response:
    """The JSON answer to ``exc``, with its own headers (``Allow`` on a 405,
    ``WWW-Authenticate`` on a 401...) but not its text/html type."""
    response = error_response(exc.code or 500, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def init_error_handlers(app: Flask) -> None:
    """Turn HTTP errors, backend outages and bugs into JSON answers and one log line."""

    app.register_error_handler(HTTPException, http_error_response)

    @app.errorhandler(StorageUnavailable)
    @app.errorhandler(QueueUnavailable)
    @app.errorhandler(EdgeCacheUnavailable)
    @app.errorhandler(ApiKeyStoreUnavailable)
    @app.errorhandler(QuotaStoreUnavailable)
    @app.errorhandler(SqliteStoreUnavailable)
    def _backend_down(exc: Exception) -> Response:
        log.error(
            "backend unavailable",
            extra={"request_id": request_id(), "error": repr(exc), "cause": repr(exc.__cause__)},
        )
        response = error_response(503, "the service is briefly unavailable, retry shortly")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(ProofsBusy)
    def _proofs_busy(exc: ProofsBusy) -> Response:
        log.warning(
            "costly proofs busy",
            extra={"request_id": request_id(), "slots": exc.slots},
        )
        response = error_response(
            503, "the server is busy checking other photos, retry in a moment"
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Response:
        log.exception("unhandled error", extra={"request_id": request_id()})
        return error_response(500, InternalServerError.description)
