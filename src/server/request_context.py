"""Request ids and the access log: every response carries ``X-Request-Id``."""

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-Id"
# A client-sent id is echoed only if it is short and plain, so it cannot forge log lines.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_log = logging.getLogger("sharer.access")


def request_id() -> str:
    """The current request's id (the client's if it sent a usable one)."""
    return str(g.get("request_id", "-"))


def init_request_context(app: Flask) -> None:
    """Assign request ids, echo them, and write one access line per request."""

    @app.before_request
    def _start() -> None:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = sent if _CLIENT_ID.fullmatch(sent) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        # before_request may not have run (e.g. a routing error raised first).
        rid = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("started", time.perf_counter())
        access_log.info(
            "request",
            extra={
                "request_id": rid,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return response
