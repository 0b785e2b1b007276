"""The enqueue -> ready latency: stamped in the message, emitted as EMF in the worker's log."""

import dataclasses
import json
import logging
import time

import pytest

from sharer.formats import JPEG
from sharer.ids import new_image_id
from sharer.logs import JsonFormatter
from sharer.messages import MessageError, decode_job, encode_job, job_for_upload
from support import images
from support.fakes import FakeQueue, FakeStorage
from worker.processing import JobProcessor
from worker.ready_metric import METRIC_NAMESPACE, READY_LATENCY_METRIC


def test_a_job_carries_when_it_was_queued() -> None:
    before = time.time()
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    assert job.enqueued_at is not None
    assert before <= job.enqueued_at <= time.time()
    assert decode_job(encode_job(job)).enqueued_at == job.enqueued_at
    # Messages queued before the field existed still decode.
    older = dataclasses.replace(job, enqueued_at=None)
    assert "enqueued_at" not in json.loads(encode_job(older))
    assert decode_job(encode_job(older)).enqueued_at is None


@pytest.mark.parametrize("value", ["yesterday", True, -1, float("inf")])
def test_a_bad_enqueue_time_is_refused(value: object) -> None:
    doc = json.loads(encode_job(job_for_upload(new_image_id(), JPEG, has_alpha=False)))
    doc["enqueued_at"] = value
    with pytest.raises(MessageError, match="enqueued_at"):
        decode_job(json.dumps(doc))


def _ready_line(
    storage: FakeStorage, queue: FakeQueue, caplog: pytest.LogCaptureFixture, *, age: float | None
) -> dict[str, object]:
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    stamped = None if age is None else time.time() - age
    storage.put(job.original_key, images.jpeg((640, 480)), "image/jpeg")
    queue.send(encode_job(dataclasses.replace(job, enqueued_at=stamped)))
    (delivery,) = queue.receive(1, 0)
    with caplog.at_level(logging.INFO, logger="sharer.worker"):
        JobProcessor(storage, queue, max_receives=3).handle(delivery)
    (record,) = [r for r in caplog.records if r.getMessage() == "thumbnails ready"]
    line: dict[str, object] = json.loads(JsonFormatter().format(record))
    return line


def test_the_ready_log_line_is_an_emf_document(
    storage: FakeStorage, queue: FakeQueue, caplog: pytest.LogCaptureFixture
) -> None:
    line = _ready_line(storage, queue, caplog, age=2.0)
    emf = line["_aws"]
    assert isinstance(emf, dict)
    assert isinstance(emf["Timestamp"], int)
    assert abs(emf["Timestamp"] / 1000 - time.time()) < 60
    (directive,) = emf["CloudWatchMetrics"]
    assert directive["Namespace"] == METRIC_NAMESPACE
    assert directive["Dimensions"] == [[]]
    (metric,) = directive["Metrics"]
    assert metric == {"Name": READY_LATENCY_METRIC, "Unit": "Milliseconds"}
    # The metric's value is the root member of that name: the wait since the job was queued.
    latency = line[READY_LATENCY_METRIC]
    assert isinstance(latency, float)
    assert 2000 <= latency < 2000 + 30_000


def test_a_message_without_an_enqueue_time_emits_no_metric(
    storage: FakeStorage, queue: FakeQueue, caplog: pytest.LogCaptureFixture
) -> None:
    line = _ready_line(storage, queue, caplog, age=None)
    assert "_aws" not in line
    assert READY_LATENCY_METRIC not in line
