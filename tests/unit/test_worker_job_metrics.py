"""The worker's metrics are for the operator: a worker that cannot keep them still runs."""

import logging
import os
from pathlib import Path

import pytest

from worker.__main__ import _job_metrics
from worker.processing import JobObserver


def test_an_unwritable_metrics_directory_leaves_a_plain_observer_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("where the directory's parent should be")
    before = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

    with caplog.at_level(logging.WARNING, logger="sharer.worker"):
        observer = _job_metrics(str(blocker / "worker-metrics"))

    assert type(observer) is JobObserver
    assert [r.getMessage() for r in caplog.records] == ["no job metrics"]
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR") == before
