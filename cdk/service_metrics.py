"""The service's CloudWatch metrics made from its log lines: on AWS the same measures as
``GET /metrics`` gives in the embedded mode, under the names of ``sharer.metric_names``
(docs/operations.md has the table of both).

Each is a metric filter on a role's log group (the JSON lines ``sharer.logs`` writes):
the server's access lines give uploads by status, request latency and quota refusals;
the worker's job lines give thumbnails made and jobs failed. The queue's depth and
oldest age are SQS's own metrics, and the 202 -> ready latency the worker's embedded
metric (``worker.ready_metric``).
"""

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from constructs import Construct

from sharer.metric_names import (
    CLOUDWATCH_JOBS_FAILED,
    CLOUDWATCH_NAMESPACE,
    CLOUDWATCH_QUOTA_REFUSALS,
    CLOUDWATCH_REQUEST_LATENCY,
    CLOUDWATCH_THUMBNAILS_MADE,
    CLOUDWATCH_UPLOADS,
)

# The fields of the access line (server.request_log) and of the worker's job lines
# (worker.processing); tests/infra/test_service_metrics.py checks them against real lines.
UPLOAD_ANSWERS = '{ $.logger = "sharer.access" && $.method = "POST" && $.path = "/" }'
ANSWERS = '{ $.logger = "sharer.access" && $.duration_ms = * }'
QUOTA_REFUSALS = (
    '{ $.logger = "sharer.access" && $.method = "POST" && $.path = "/" && $.status = 429 }'
)
JOBS_READY = '{ $.msg = "thumbnails ready" && $.thumbnails = * }'
JOBS_FAILED = '{ $.msg = "job dead-lettered" || $.msg = "job failed, will retry" }'


class ServiceMetrics(Construct):
    """``metrics``: each CloudWatch metric by its name, from the two roles' log groups."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        server_log_group: logs.ILogGroup,
        worker_log_group: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self.metrics: dict[str, cloudwatch.Metric] = {}
        self._filter(
            server_log_group,
            CLOUDWATCH_UPLOADS,
            UPLOAD_ANSWERS,
            "1",
            cloudwatch.Unit.COUNT,
            dimensions={"Status": "$.status"},
        )
        self._filter(
            server_log_group,
            CLOUDWATCH_REQUEST_LATENCY,
            ANSWERS,
            "$.duration_ms",
            cloudwatch.Unit.MILLISECONDS,
        )
        self._filter(
            server_log_group,
            CLOUDWATCH_QUOTA_REFUSALS,
            QUOTA_REFUSALS,
            "1",
            cloudwatch.Unit.COUNT,
        )
        self._filter(
            worker_log_group,
            CLOUDWATCH_THUMBNAILS_MADE,
            JOBS_READY,
            "$.thumbnails",
            cloudwatch.Unit.COUNT,
        )
        self._filter(
            worker_log_group,
            CLOUDWATCH_JOBS_FAILED,
            JOBS_FAILED,
            "1",
            cloudwatch.Unit.COUNT,
        )

    def _filter(
        self,
        log_group: logs.ILogGroup,
        name: str,
        pattern: str,
        value: str,
        unit: cloudwatch.Unit,
        dimensions: dict[str, str] | None = None,
    ) -> None:
        self.metrics[name] = logs.MetricFilter(
            self,
            name,
            log_group=log_group,
            filter_pattern=logs.FilterPattern.literal(pattern),
            metric_namespace=CLOUDWATCH_NAMESPACE,
            metric_name=name,
            metric_value=value,
            unit=unit,
            dimensions=dimensions,
        ).metric()
