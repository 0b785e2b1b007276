"""Messages that can never succeed go to the dead-letter queue at once, with a reason, and
never hold up the good job queued behind them."""

import json

import pytest

from faults.conftest import Stack
from sharer.formats import JPEG
from sharer.ids import new_image_id
from sharer.key_scheme import status_key
from sharer.messages import encode_job, job_for_upload
from sharer.status import encode_status, status_for_job
from support import images
from support.client import upload
from support.load import Accepted, check_thumbnails, settle

pytestmark = pytest.mark.e2e


def test_poison_messages_are_dead_lettered_and_never_block_the_queue(stack: Stack) -> None:
    storage, queue = stack.backends.storage, stack.backends.queue
    # Sent straight to the queue and storage, bypassing the server's validation.
    future = json.loads(encode_job(job_for_upload(new_image_id(), JPEG, False)))
    future["version"] = 99
    missing = job_for_upload(new_image_id(), JPEG, False)  # its original was never stored
    garbage = job_for_upload(new_image_id(), JPEG, False)
    storage.put(garbage.original_key, b"\xff\xd8\xff" + bytes(range(256)) * 40, "image/jpeg")
    storage.put(
        status_key(garbage.image_id),
        encode_status(status_for_job(garbage)),
        "application/json",
        immutable=False,
    )
    poison = {
        "not JSON": "thumbnail please \u2603",
        "unsupported schema version 99": json.dumps(future),
        "the original image is missing": encode_job(missing),
        "the image could not be thumbnailed": encode_job(garbage),
    }
    for body in poison.values():
        queue.send(body)

    stack.service.start_server()
    good = Accepted.from_response(upload(stack.service.base_url, images.jpeg((800, 600))))
    stack.service.start_worker(SHARER_WORKER_THREADS="1")  # one job at a time, in order
    assert list(settle(stack.service.base_url, [good], timeout=30).values()) == ["ready"]
    assert check_thumbnails([good]) == []

    dead = {d.body: d.reason for d in stack.backends.dead_letters()}
    assert set(dead) == set(poison.values())
    for expected, body in poison.items():
        assert expected in str(dead[body])
    dead_lettered = stack.logged("worker-0", "job dead-lettered")
    assert sorted(str(line["reason"]) for line in dead_lettered) == sorted(
        str(r) for r in dead.values()
    )
    # Each was refused on its first delivery: no retries, no backoff in front of the good job.
    assert {line["receive_count"] for line in dead_lettered} == {1}
    for job in (missing, garbage):
        assert stack.backends.state_of(job.image_id) == "failed"
        assert not any(
            k != job.original_key for k in stack.backends.keys(f"images/{job.image_id}/")
        )
