"""``GET /healthz``: 200 when storage and queue answer, 503 naming what does not."""

from flask import Blueprint, Response, jsonify

from server.context import current_queue, current_storage
from sharer.queues import QueueUnavailable
from sharer.storage import StorageUnavailable

health_blueprint = Blueprint("health", __name__)


@health_blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Probe both backends; the body says which one failed."""
    checks: dict[str, str] = {}
    try:
        current_storage().check()
        checks["storage"] = "ok"
    except StorageUnavailable as exc:
        checks["storage"] = f"unavailable: {exc}"
    try:
        current_queue().check()
        checks["queue"] = "ok"
    except QueueUnavailable as exc:
        checks["queue"] = f"unavailable: {exc}"
    healthy = all(v == "ok" for v in checks.values())
    response = jsonify(status="ok" if healthy else "unavailable", **checks)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if healthy else 503
