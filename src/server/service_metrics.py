"""The server's Prometheus metrics (names and buckets from ``sharer.metric_names``).

Under gunicorn they are kept in multiprocess mode: ``sharer-server`` gives gunicorn a
``PROMETHEUS_MULTIPROC_DIR`` of its own, which every process of it writes to, and
``GET /metrics`` (``server.metrics_route``) adds them up.
"""

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge, Histogram

from sharer import metric_names

UPLOADS = Counter(metric_names.UPLOADS, "Answers to POST /, by status", ["status"])
REQUEST_SECONDS = Histogram(
    metric_names.REQUEST_SECONDS,
    "Time from a request reaching the app to its answer, by route",
    ["route"],
    buckets=metric_names.REQUEST_SECONDS_BUCKETS,
)
QUOTA_REFUSALS = Counter(
    metric_names.QUOTA_REFUSALS, "Uploads refused 429 by a quota, by quota", ["policy"]
)
# Summed over the live processes: a stopped process's waits are over.
WAITERS_IN_USE = Gauge(
    metric_names.WAITERS_IN_USE,
    "GETs waiting for a pending image (Prefer: wait) right now",
    multiprocess_mode="livesum",
)


def init_service_metrics(app: Flask) -> None:
    """Time every request and count the answers to uploads."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        if started is not None:
            REQUEST_SECONDS.labels(route=route).observe(time.perf_counter() - started)
        if request.method == "POST" and request.endpoint == "upload.upload":
            UPLOADS.labels(status=str(response.status_code)).inc()
        return response
