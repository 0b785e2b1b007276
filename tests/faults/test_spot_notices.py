"""A Spot notice in the instance metadata (a fake IMDSv2 on loopback) stops a real worker:
it takes no more jobs, finishes what it can within the notice, hands the rest back at once
and exits 0; another worker then finishes every job, so none is lost."""

import subprocess
import time
from collections.abc import Iterator

import pytest

from faults.conftest import Stack
from support.instance_metadata import FakeInstanceMetadata
from support.load import Accepted, settle
from worker.spot_notices import SAFETY_MARGIN_SECONDS

pytestmark = pytest.mark.e2e

# Jobs of 1600x1200 JPEGs, several times the worker's threads: on a quiet machine a
# small batch can be all done before the notice is even polled, and these tests need jobs
# still held or queued when it comes.
BATCH = 48
POLL = {"SHARER_SPOT_NOTICE_POLL_SECONDS": "0.2"}


@pytest.fixture
def imds() -> Iterator[FakeInstanceMetadata]:
    with FakeInstanceMetadata() as fake:
        yield fake


def _ready_count(stack: Stack, process: str) -> int:
    return len(stack.logged(process, "thumbnails ready"))


def test_an_interruption_releases_the_held_jobs_at_once_and_none_is_lost(
    aws_stack: Stack, imds: FakeInstanceMetadata
) -> None:
    # Originals take 30 s to arrive, so the worker surely holds jobs when the notice comes.
    stack = aws_stack
    stack.service.start_server()
    accepted = stack.upload_slow_batch(BATCH)
    worker = stack.start_worker_stuck_on_originals(SHARER_INSTANCE_METADATA_URL=imds.url, **POLL)
    _interrupt_and_check(stack, worker, imds, accepted)


def test_an_interruption_on_the_embedded_backends_releases_what_it_holds(
    local_stack: Stack, imds: FakeInstanceMetadata
) -> None:
    stack, service = local_stack, local_stack.service
    service.start_server()
    accepted = stack.upload_slow_batch(BATCH)
    worker = stack.start_worker_holding_jobs(SHARER_INSTANCE_METADATA_URL=imds.url, **POLL)
    _interrupt_and_check(stack, worker, imds, accepted)


def _interrupt_and_check(
    stack: Stack, worker: "subprocess.Popen[bytes]", imds: FakeInstanceMetadata,
    accepted: list[Accepted],
) -> None:  # fmt: skip
    # The action is due as the safety margin begins: nothing may wait for running jobs.
    imds.interrupt(time.time() + SAFETY_MARGIN_SECONDS)
    assert worker.wait(10) == 0
    assert stack.logged("worker-0", "spot notice: stopping")[-1]["notice"] == "interruption"
    # Not the grace period: the notice's deadline (the time is whole seconds, so the
    # deadline has passed by the time the worker drains).
    assert stack.logged("worker-0", "stopping: waiting for running jobs")[-1]["wait_s"] == 0
    assert stack.logged("worker-0", "worker stopped")[-1]["all_jobs_finished"] is False
    # Released, not left hidden for the visibility timeout.
    assert stack.backends.in_flight() == 0
    assert _ready_count(stack, "worker-0") < BATCH
    stack.service.start_worker()
    assert set(settle(stack.service.base_url, accepted, timeout=60).values()) == {"ready"}


def test_a_rebalance_recommendation_finishes_the_running_jobs_and_takes_no_more(
    local_stack: Stack, imds: FakeInstanceMetadata
) -> None:
    stack, service = local_stack, local_stack.service
    service.start_server()
    accepted = stack.upload_slow_batch(BATCH)
    worker = stack.start_worker_holding_jobs(SHARER_INSTANCE_METADATA_URL=imds.url, **POLL)
    imds.recommend_rebalance(time.time())
    assert worker.wait(5 + 5) == 0  # within the 5 s grace period, plus start-up slack
    assert stack.logged("worker-0", "worker stopped")[-1]["all_jobs_finished"] is True
    assert stack.backends.in_flight() == 0
    done_before_the_stop = _ready_count(stack, "worker-0")
    assert done_before_the_stop < BATCH, "the worker kept receiving after the notice"
    service.start_worker()
    assert set(settle(service.base_url, accepted, timeout=60).values()) == {"ready"}


def test_a_worker_started_under_a_notice_takes_no_job(
    stack: Stack, imds: FakeInstanceMetadata
) -> None:
    service = stack.service
    service.start_server()
    accepted = stack.upload_slow_batch(BATCH)
    imds.interrupt(time.time() + 120)
    # A slow endpoint: a worker that received while its first look was under way would
    # have finished jobs by the time the notice reached it.
    imds.answer_delay = 1.0
    worker = service.start_worker(SHARER_INSTANCE_METADATA_URL=imds.url, **POLL)
    assert worker.wait(20) == 0
    assert _ready_count(stack, "worker-0") == 0
    assert stack.backends.in_flight() == 0
    service.start_worker()
    assert set(settle(service.base_url, accepted, timeout=60).values()) == {"ready"}
