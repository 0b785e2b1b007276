"""Two health checks (AWS Builders' Library, "Implementing health checks"):

- ``GET /livez``, liveness: 200 whenever this process serves requests. It calls nothing,
  so a storage or queue outage never makes it fail; the load balancer routes on it and
  Auto Scaling replaces a server on it. A dependency blip must not take every server out
  at once.
- ``GET /healthz``, dependency health: 200 when storage and queue answer, 503 naming what
  does not, for operators and dashboards. Each call makes AWS calls, so the balancer
  keeps it from the public (cdk/upload_tier.py): its rule matches the path as sent, so
  this answers only that spelling, 404 to any other (``/%68ealthz``), which the balancer
  would pass on and routing would decode to this route.

The body says which backend is down, never why: the error (a path, a bucket, a host)
goes to the operator's log with the request id.
"""

import logging

from flask import Blueprint, Response, abort, jsonify, request

from server.bound_backends import current_queue, current_storage
from server.request_log import request_id
from sharer.queues import QueueUnavailable
from sharer.storage import StorageUnavailable

health_blueprint = Blueprint("health", __name__)

log = logging.getLogger("sharer.server")


@health_blueprint.get("/livez")
def livez() -> tuple[Response, int]:
    """Answer from this process alone: no backend is called."""
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response, 200


DEPENDENCY_HEALTH_PATH = "/healthz"


@health_blueprint.get(DEPENDENCY_HEALTH_PATH)
def healthz() -> tuple[Response, int]:
    """Probe both backends; the body says which one failed."""
    # RAW_URI (gunicorn, Werkzeug) is the target as sent, before percent-decoding.
    raw_path = str(request.environ.get("RAW_URI", request.path)).split("?", 1)[0]
    if raw_path != DEPENDENCY_HEALTH_PATH:
        abort(404)
    checks: dict[str, str] = {}
    try:
        current_storage().check()
        checks["storage"] = "ok"
    except StorageUnavailable as exc:
        checks["storage"] = _unavailable("storage", exc)
    try:
        current_queue().check()
        checks["queue"] = "ok"
    except QueueUnavailable as exc:
        checks["queue"] = _unavailable("queue", exc)
    healthy = all(v == "ok" for v in checks.values())
    response = jsonify(status="ok" if healthy else "unavailable", **checks)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if healthy else 503


def _unavailable(backend: str, exc: Exception) -> str:
    log.error(
        "health check failed",
        extra={"request_id": request_id(), "backend": backend, "error": repr(exc)},
    )
    return "unavailable"
