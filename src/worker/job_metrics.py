"""The worker's Prometheus metrics: thumbnails made, jobs failed, and the 202 -> ready
latency (names and buckets from ``sharer.metric_names``).

Kept in multiprocess mode in ``SHARER_WORKER_METRICS_DIR`` (``sharer-worker`` sets
``PROMETHEUS_MULTIPROC_DIR`` to it before this module is imported), where the server's
``GET /metrics`` adds them up with its own. On AWS the same measures reach CloudWatch from
the worker's log lines (``worker.ready_metric``, cdk/monitoring.py).
"""

from prometheus_client import Counter, Histogram

from sharer import metric_names
from worker.processing import JobObserver

THUMBNAILS_MADE = Counter(metric_names.THUMBNAILS_MADE, "Thumbnails made and stored")
JOBS_FAILED = Counter(
    metric_names.JOBS_FAILED,
    "Thumbnail jobs that failed, by outcome (retried later, or dead-lettered)",
    ["outcome"],
)
READY_LATENCY = Histogram(
    metric_names.READY_LATENCY_SECONDS,
    "Time from the server queueing a job (its 202) to its thumbnails being stored",
    buckets=metric_names.READY_LATENCY_BUCKETS,
)


class PrometheusJobObserver(JobObserver):
    """Counts what the job processor reports into the metrics above."""

    def ready(self, thumbnails: int, latency_seconds: float | None) -> None:
        """A job's ``thumbnails`` are stored, ``latency_seconds`` after its 202."""
        THUMBNAILS_MADE.inc(thumbnails)
        if latency_seconds is not None:
            READY_LATENCY.observe(latency_seconds)

    def failed(self, dead_lettered: bool) -> None:
        """A job failed: retried later, or given up on."""
        JOBS_FAILED.labels(outcome="dead_lettered" if dead_lettered else "retried").inc()
