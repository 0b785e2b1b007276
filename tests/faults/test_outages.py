"""Storage or queue failing: the server answers 503 and keeps nothing; the worker retries
with backoff, dead-letters after the bounded receive count, and a redrive finishes the job."""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from faults.backends import AwsBackends, LocalBackends
from faults.conftest import Stack
from support import images
from support.client import upload
from support.faults import loop_symlink, s3_slow_down, sqlite_write_lock, sqs_throttled
from support.load import Accepted, check_thumbnails, settle
from support.waiting import wait_for

pytestmark = pytest.mark.e2e

Outage = Callable[[Stack], AbstractContextManager[None]]


@contextmanager
def status_records_unwritable(stack: Stack) -> Iterator[None]:
    """Storage fails after the original is stored (the status put): the cleanup case."""
    if isinstance(stack.backends, LocalBackends):
        status_dir = stack.backends.root / "status"
        loop_symlink(status_dir)
        yield
        status_dir.unlink()
        return
    assert stack.proxy is not None
    assert isinstance(stack.backends, AwsBackends)
    bucket = stack.backends.bucket
    stack.proxy.inject(
        lambda r: r.method == "PUT" and r.is_s3_object(bucket, "status/"), s3_slow_down()
    )
    yield
    stack.proxy.heal()


@contextmanager
def queue_refusing_sends(stack: Stack) -> Iterator[None]:
    """The queue fails to accept the job: locked SQLite (for its 10 s busy timeout),
    throttled SQS (through botocore's retries)."""
    if isinstance(stack.backends, LocalBackends):
        with sqlite_write_lock(stack.backends.queue.path):
            yield
        return
    assert stack.proxy is not None
    stack.proxy.inject(lambda r: r.sqs_action == "SendMessage", sqs_throttled())
    yield
    stack.proxy.heal()


@pytest.mark.parametrize("outage", [status_records_unwritable, queue_refusing_sends])
def test_the_server_answers_503_and_leaves_nothing_behind(stack: Stack, outage: Outage) -> None:
    server_env = stack.via_proxy if stack.proxy is not None else {}
    stack.service.start_server(**server_env)
    with outage(stack):
        response = upload(stack.service.base_url, images.jpeg((640, 480)))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["error"]
    assert stack.backends.keys("images/") == []
    assert stack.backends.keys("status/") == []
    # The outage over, the same server accepts uploads again.
    assert upload(stack.service.base_url, images.jpeg((640, 480))).status_code == 202


def test_503_when_the_work_queue_is_gone(aws_stack: Stack) -> None:
    backends = aws_stack.backends
    assert isinstance(backends, AwsBackends)
    aws_stack.service.start_server()
    backends.sqs.delete_queue(QueueUrl=backends.queue_url)
    response = upload(aws_stack.service.base_url, images.jpeg((640, 480)))
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert backends.keys("") == []


def _break_storage_for_the_worker(stack: Stack) -> dict[str, str]:
    """Settings for a worker whose reads of originals fail (status writes still work)."""
    if isinstance(stack.backends, LocalBackends):
        # Its own root: images/ loops (ELOOP on every read), status/ is the real one.
        root = stack.service.log_dir / "worker-root"
        loop_symlink(root / "images")
        (root / "status").symlink_to(stack.backends.root / "status")
        return {"SHARER_STORAGE_URL": f"file://{root}"}
    assert stack.proxy is not None
    assert isinstance(stack.backends, AwsBackends)
    bucket = stack.backends.bucket
    stack.proxy.inject(
        lambda r: r.method == "GET" and r.is_s3_object(bucket, "images/"), s3_slow_down()
    )
    return stack.via_proxy


def _redrive(stack: Stack) -> None:
    """What the operator does once storage is back (docs/operations.md)."""
    if isinstance(stack.backends, LocalBackends):
        env = os.environ | stack.service.env
        result = subprocess.run(
            [sys.executable, "-m", "sharer.queues.sqlite_admin", "redrive", "--all"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert result.stdout.strip() == "redrove 1 message(s)"
    else:
        assert stack.backends.redrive() == 1


def test_a_worker_that_cannot_read_storage_retries_dead_letters_and_is_redriven(
    stack: Stack,
) -> None:
    service = stack.service
    service.start_server()
    accepted = [Accepted.from_response(upload(service.base_url, images.jpeg((640, 480))))]
    image_id = accepted[0].location.rsplit("/", 1)[1]
    service.start_worker(**_break_storage_for_the_worker(stack))

    assert list(settle(service.base_url, accepted, timeout=40).values()) == ["failed"]
    # The worker records `failed` before it dead-letters (so a failed write keeps the
    # message): the dead letter may land a moment after the status.
    assert wait_for(lambda: len(stack.backends.dead_letters()) > 0, timeout=10, every=0.2)
    dead = stack.backends.dead_letters()
    assert [json.loads(d.body)["id"] for d in dead] == [image_id]
    assert dead[0].reason is not None
    assert dead[0].reason.startswith("gave up after 3 attempts")
    retries = [line["retry_in_s"] for line in stack.logged("worker-0", "job failed, will retry")]
    assert retries == [2, 4]  # exponential backoff, then the third receive is the last
    assert stack.backends.keys(f"images/{image_id}/") == [f"images/{image_id}/original.jpg"]

    # Storage back (a healthy worker), the operator redrives: the promise is kept.
    service.workers[0].terminate()
    service.workers[0].wait(15)
    if stack.proxy is not None:
        stack.proxy.heal()
    service.start_worker()
    _redrive(stack)
    # The status says failed until the redriven job is done: wait for ready, not for change.
    assert wait_for(lambda: stack.backends.state_of(image_id) == "ready", timeout=30, every=0.2)
    assert check_thumbnails(accepted) == []


def test_a_503_removes_the_idempotency_record_so_the_retry_proceeds(stack: Stack) -> None:
    server_env = stack.via_proxy if stack.proxy is not None else {}
    stack.service.start_server(**server_env)
    photo, key = images.jpeg((640, 480), seed=5), {"Idempotency-Key": '"retry-after-503"'}
    with queue_refusing_sends(stack):
        refused = upload(stack.service.base_url, photo, **key)
    assert refused.status_code == 503
    # The original was stored and removed again, and so was the key's record.
    assert stack.backends.keys("images/") == []
    assert stack.backends.keys("idempotency/") == []

    retried = upload(stack.service.base_url, photo, **key)

    assert retried.status_code == 202
    assert "Delete-Token" in retried.headers
    assert len(stack.backends.keys("idempotency/")) == 1
