"""The CloudWatch metrics made from the log lines: one metric filter per measure, under
the names ``GET /metrics`` shares (``sharer.metric_names``), matching fields that the
app's real log lines carry."""

import io
import json
import logging
import re
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from PIL import Image

from cdk import service_metrics
from cdk.service_metrics import ServiceMetrics
from server.app import create_app
from sharer import metric_names
from sharer.backends import open_queue, open_storage
from sharer.formats import JPEG
from sharer.ids import new_image_id
from sharer.logs import JsonFormatter
from sharer.messages import encode_job, job_for_upload
from sharer.settings import ServerSettings
from worker.processing import JobProcessor

FIELD = re.compile(r"\$\.(\w+)")


@pytest.fixture(scope="module")
def filters() -> dict[str, dict[str, object]]:
    """The metric filters of the construct in a bare stack, by metric name."""
    stack = Stack(App(), "Bare")
    ServiceMetrics(
        stack,
        "ServiceMetrics",
        server_log_group=logs.LogGroup(stack, "ServerLogs"),
        worker_log_group=logs.LogGroup(stack, "WorkerLogs"),
    )
    found = Template.from_stack(stack).find_resources("AWS::Logs::MetricFilter")
    return {
        props["Properties"]["MetricTransformations"][0]["MetricName"]: props["Properties"]
        for props in found.values()
    }


def test_every_measure_has_its_metric_in_the_namespace(
    filters: dict[str, dict[str, object]],
) -> None:
    assert set(filters) == {
        metric_names.CLOUDWATCH_UPLOADS,
        metric_names.CLOUDWATCH_REQUEST_LATENCY,
        metric_names.CLOUDWATCH_QUOTA_REFUSALS,
        metric_names.CLOUDWATCH_THUMBNAILS_MADE,
        metric_names.CLOUDWATCH_JOBS_FAILED,
    }
    uploads = filters[metric_names.CLOUDWATCH_UPLOADS]["MetricTransformations"]
    assert uploads == [
        {
            "MetricName": metric_names.CLOUDWATCH_UPLOADS,
            "MetricNamespace": metric_names.CLOUDWATCH_NAMESPACE,
            "MetricValue": "1",
            "Unit": "Count",
            "Dimensions": [{"Key": "Status", "Value": "$.status"}],
        }
    ]


def _lines(logger: str, act: object) -> list[dict[str, object]]:
    """The JSON lines ``logger`` writes while ``act()`` runs, as ``sharer.logs`` writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    target = logging.getLogger(logger)
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        act()  # type: ignore[operator]
    finally:
        target.removeHandler(handler)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _jpeg() -> bytes:
    encoded = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(encoded, "JPEG")
    return encoded.getvalue()


def test_the_patterns_name_fields_of_the_real_lines(tmp_path: Path) -> None:
    settings = ServerSettings.from_env({"SHARER_DATA_DIR": str(tmp_path)})
    app = create_app(settings)
    (access,) = _lines(
        "sharer.access",
        lambda: app.test_client().post(
            "/",
            data={"image": (io.BytesIO(_jpeg()), "a.jpg")},
            content_type="multipart/form-data",
        ),
    )
    storage, queue = open_storage(settings.common), open_queue(settings.common)
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    storage.put(job.original_key, _jpeg(), "image/jpeg")
    queue.send(encode_job(job))
    processor = JobProcessor(storage, queue, max_receives=3)
    ready = _lines("sharer.worker", lambda: processor.handle(queue.receive(1, 0)[0]))

    assert (access["method"], access["path"], access["status"]) == ("POST", "/", 202)
    for pattern in (
        service_metrics.UPLOAD_ANSWERS,
        service_metrics.ANSWERS,
        service_metrics.QUOTA_REFUSALS,
    ):
        assert set(FIELD.findall(pattern)) <= set(access)
    (done,) = (line for line in ready if line["msg"] == "thumbnails ready")
    assert set(FIELD.findall(service_metrics.JOBS_READY)) <= set(done)
    assert done["thumbnails"] == len(job.thumbnails)
