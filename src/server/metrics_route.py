"""``GET /metrics``: the service's metrics in Prometheus' text format (embedded mode).

The server's own metrics come from every gunicorn process (multiprocess mode, the
directory ``sharer-server`` gives gunicorn), the workers' from theirs
(``SHARER_WORKER_METRICS_DIR``), and the queue's depth and oldest age are read from the
SQLite queue at each scrape. nginx serves this path on ``SHARER_METRICS_BIND`` when it is
set (and refuses it on ``SHARER_BIND``); CloudFront never forwards it (cdk/cdn.py).
"""

import os
from collections.abc import Iterator
from pathlib import Path

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from server.bound_backends import current_queue, current_settings
from sharer import metric_names
from sharer.queues.sqlite import SqliteQueue

metrics_blueprint = Blueprint("metrics", __name__)

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class QueueCollector(Collector):
    """The SQLite queue's messages by state, and the age of its oldest, read at a scrape."""

    def __init__(self, queue: SqliteQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        """Two gauges, read now."""
        counts = self.queue.counts()
        messages = GaugeMetricFamily(
            metric_names.QUEUE_MESSAGES, "Thumbnail jobs in the queue, by state", labels=["state"]
        )
        for state, value in (
            ("visible", counts.visible),
            ("in_flight", counts.in_flight),
            ("dead", counts.dead),
        ):
            messages.add_metric([state], value)
        yield messages
        yield GaugeMetricFamily(
            metric_names.QUEUE_OLDEST_AGE_SECONDS,
            "Age of the oldest job in the queue (0 when empty)",
            value=self.queue.oldest_age_seconds(),
        )


@metrics_blueprint.route("/metrics", methods=["GET"], provide_automatic_options=False)
def metrics() -> Response:
    """Every metric of this server, its workers and the queue, in the text format."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:  # one process (the app run without gunicorn, as some tests do)
        registry.register(REGISTRY)
    workers = Path(current_settings().common.worker_metrics_dir)
    if workers.is_dir():
        MultiProcessCollector(registry, path=str(workers))  # type: ignore[no-untyped-call]
    queue = current_queue()
    if isinstance(queue, SqliteQueue):
        registry.register(QueueCollector(queue))
    response = Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
