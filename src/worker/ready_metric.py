"""The enqueue -> ready latency as a CloudWatch metric, carried by the worker's log line.

The log line is a CloudWatch embedded metric format (EMF) document: CloudWatch Logs
extracts the metric from the ``_aws`` member of any JSON event it ingests, so shipping
the log file already publishes it, with no CloudWatch API call from the worker.
"""

from typing import Any

from sharer.metric_names import CLOUDWATCH_NAMESPACE, CLOUDWATCH_READY_LATENCY

# cdk/monitoring.py graphs and alarms on this namespace and metric name.
METRIC_NAMESPACE = CLOUDWATCH_NAMESPACE
READY_LATENCY_METRIC = CLOUDWATCH_READY_LATENCY


def ready_latency_fields(enqueued_at: float | None, now: float) -> dict[str, Any]:
    """The EMF members for a job queued at ``enqueued_at`` and ready at ``now`` (Unix s).

    Empty for a message queued before jobs carried their enqueue time.
    """
    if enqueued_at is None:
        return {}
    return {
        "_aws": {
            "Timestamp": int(now * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRIC_NAMESPACE,
                    "Dimensions": [[]],
                    "Metrics": [{"Name": READY_LATENCY_METRIC, "Unit": "Milliseconds"}],
                }
            ],
        },
        # Clocks of the server and worker instances differ slightly: never report below 0.
        READY_LATENCY_METRIC: round(max(0.0, now - enqueued_at) * 1000, 1),
    }
