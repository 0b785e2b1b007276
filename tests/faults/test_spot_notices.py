"""A Spot notice in the instance metadata (a fake IMDSv2 on loopback) stops a real worker:
it takes no more jobs, finishes what it can within the notice, hands the rest back at once
and then waits, taking no job, until SIGTERM (the instance going) and exits 0; another
worker then finishes every job, so none is lost. It does not exit under the notice, which
would have systemd restart it every RestartSec until the instance goes."""

import subprocess
import time
from collections.abc import Iterator

import pytest

from faults.conftest import Stack
from support.instance_metadata import INSTANCE_ACTION, FakeInstanceMetadata
from support.load import settle
from support.waiting import wait_for
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


def _waits_out_the_notice(stack: Stack, worker: "subprocess.Popen[bytes]") -> None:
    """Until the worker, done with its jobs, says it waits for the instance to go."""
    waiting = "spot notice: waiting for the instance to go"
    assert wait_for(lambda: bool(stack.logged("worker-0", waiting)), timeout=15)
    assert worker.poll() is None, "the worker exited under the notice"


def _terminate(worker: "subprocess.Popen[bytes]") -> None:
    """SIGTERM, as EC2's shutdown sends it: the waiting worker exits 0 at once."""
    assert worker.poll() is None, "the worker exited under the notice"
    worker.terminate()
    assert worker.wait(10) == 0


def test_an_interruption_releases_the_held_jobs_at_once_and_none_is_lost(
    stack: Stack, imds: FakeInstanceMetadata
) -> None:
    # Reads of originals are held (by the proxy on AWS, by named pipes on disk), so the
    # worker surely holds jobs it cannot finish when the notice comes.
    stack.service.start_server()
    accepted = stack.upload_slow_batch(BATCH)
    worker = stack.start_worker_stuck_on_originals(SHARER_INSTANCE_METADATA_URL=imds.url, **POLL)
    # The action is due as the safety margin begins: nothing may wait for running jobs.
    imds.interrupt(time.time() + SAFETY_MARGIN_SECONDS)
    _waits_out_the_notice(stack, worker)
    assert stack.logged("worker-0", "spot notice: stopping")[-1]["notice"] == "interruption"
    # Not the grace period: the notice's deadline (the time is whole seconds, so the
    # deadline has passed by the time the worker drains).
    assert stack.logged("worker-0", "stopping: waiting for running jobs")[-1]["wait_s"] == 0
    assert stack.logged("worker-0", "worker stopped")[-1]["all_jobs_finished"] is False
    # Released, not left hidden for the visibility timeout.
    assert stack.backends.in_flight() == 0
    assert _ready_count(stack, "worker-0") < len(accepted)
    _terminate(worker)
    stack.let_originals_through()
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
    _waits_out_the_notice(stack, worker)
    assert stack.logged("worker-0", "worker stopped")[-1]["all_jobs_finished"] is True
    assert stack.backends.in_flight() == 0
    done_before_the_stop = _ready_count(stack, "worker-0")
    assert done_before_the_stop < BATCH, "the worker kept receiving after the notice"
    _terminate(worker)
    service.start_worker()
    assert set(settle(service.base_url, accepted, timeout=60).values()) == {"ready"}


def test_a_worker_started_under_a_notice_takes_no_job_and_waits_for_the_instance_to_go(
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
    _waits_out_the_notice(stack, worker)
    imds.answer_delay = 0.0
    # Still there several looks later (the unit's RestartSec is 5 s; these are 0.2 s),
    # having said so once: one process, one start, one notice line.
    looks = len(imds.gets(INSTANCE_ACTION))
    assert wait_for(lambda: len(imds.gets(INSTANCE_ACTION)) >= looks + 5, timeout=10)
    assert worker.poll() is None
    assert len(stack.logged("worker-0", "worker started")) == 1
    assert len(stack.logged("worker-0", "spot notice: stopping")) == 1
    assert len(stack.logged("worker-0", "spot notice: waiting for the instance to go")) == 1
    assert _ready_count(stack, "worker-0") == 0
    assert stack.backends.in_flight() == 0
    _terminate(worker)
    service.start_worker()
    assert set(settle(service.base_url, accepted, timeout=60).values()) == {"ready"}


def test_a_waiting_worker_exits_when_the_notice_is_withdrawn(
    local_stack: Stack, imds: FakeInstanceMetadata
) -> None:
    # An instance stopped by an interruption and started again has no notice any more:
    # the worker exits 0 and systemd's next start consumes as usual.
    imds.interrupt(time.time() + 120)
    worker = local_stack.service.start_worker(SHARER_INSTANCE_METADATA_URL=imds.url, **POLL)
    _waits_out_the_notice(local_stack, worker)
    # A metadata outage meanwhile: the worker keeps waiting and says so once, not per look.
    before = imds.token_requests()
    imds.token_body = b" "
    imds.expire_tokens()
    assert wait_for(lambda: imds.token_requests() >= before + 3, timeout=10)
    assert worker.poll() is None
    assert len(local_stack.logged("worker-0", "instance metadata unavailable")) == 1
    imds.token_body = None
    imds.withdraw(INSTANCE_ACTION)
    assert worker.wait(10) == 0
    assert local_stack.logged(
        "worker-0", "spot notice withdrawn: exiting so the worker starts again"
    )
