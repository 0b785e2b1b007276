"""The reconciler on fakes: which pending images it queues again, gives up on or clears,
and how much it does per run."""

import json
import time

import pytest

from reconciler.pending import MAX_REQUEUES, PendingReconciler
from sharer.deletion import leave_tombstone
from sharer.formats import JPEG
from sharer.ids import new_image_id
from sharer.key_scheme import pending_key, status_key
from sharer.messages import ThumbnailJob, decode_job, job_for_upload
from sharer.pending_markers import PendingMarker, decode_marker, encode_marker, marker_object
from sharer.settings import CommonSettings
from sharer.status import ImageState, decode_status, encode_status, status_for_job
from sharer.status_documents import Announcer
from sharer.storage import NewObject
from sharer.webhook_events import QueuedWebhookEvents, decode_event
from support import images
from support.fakes import FakeQueue, FakeStorage

STALE = 600
DIGEST = "cd" * 32


def _uploaded(storage: FakeStorage, *, age: float) -> ThumbnailJob:
    """What the server stores before it queues the job, as if ``age`` seconds ago."""
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False, delete_token_sha256=DIGEST)
    status = encode_status(status_for_job(job))
    storage.put_all(
        [
            NewObject(job.original_key, images.jpeg((64, 48)), "image/jpeg"),
            NewObject(status_key(job.image_id), status, "application/json", immutable=False),
            marker_object(job),
        ]
    )
    storage.modified[pending_key(job.image_id)] = time.time() - age
    return job


def _reconciler(storage: FakeStorage, queue: FakeQueue, batch: int = 10) -> PendingReconciler:
    return PendingReconciler(storage, queue, stale_seconds=STALE, batch=batch)


def _state(storage: FakeStorage, job: ThumbnailJob) -> ImageState:
    return decode_status(storage.get(status_key(job.image_id)).body).state


def test_a_stale_pending_image_is_queued_again_and_a_fresh_one_left_alone() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    stale = _uploaded(storage, age=STALE + 1)
    fresh = _uploaded(storage, age=STALE - 60)
    report = _reconciler(storage, queue).run_once()
    assert report.scanned == 2
    assert report.requeued == [stale.image_id]
    (message,) = queue.messages.values()
    assert decode_job(message.body) == stale
    assert decode_marker(storage.get(pending_key(stale.image_id)).body).requeues == 1
    assert decode_marker(storage.get(pending_key(fresh.image_id)).body).requeues == 0
    # The rewritten marker is fresh again: the next run does not queue it twice.
    assert _reconciler(storage, queue).run_once().requeued == []


def test_each_run_acts_on_at_most_batch_images() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    for _ in range(5):
        _uploaded(storage, age=STALE * 2)
    assert len(_reconciler(storage, queue, batch=2).run_once().requeued) == 2
    assert len(queue.messages) == 2
    assert len(_reconciler(storage, queue, batch=2).run_once().requeued) == 2
    assert len(queue.messages) == 4


def test_each_run_takes_the_stalest_first_wherever_they_are_listed() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    jobs = sorted((_uploaded(storage, age=0) for _ in range(5)), key=lambda j: j.image_id)
    # The later a marker is listed, the staler it is: key order would pick the youngest.
    for place, job in enumerate(jobs):
        storage.modified[pending_key(job.image_id)] = time.time() - STALE * (2 + place)
    report = _reconciler(storage, queue, batch=2).run_once()
    assert report.scanned == 5
    assert report.requeued == [jobs[4].image_id, jobs[3].image_id]


def test_after_the_last_requeue_the_image_is_marked_failed() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    job = _uploaded(storage, age=STALE + 1)
    for _ in range(MAX_REQUEUES):
        assert _reconciler(storage, queue).run_once().requeued == [job.image_id]
        storage.modified[pending_key(job.image_id)] = time.time() - STALE - 1
    report = _reconciler(storage, queue).run_once()
    assert report.given_up == [job.image_id]
    assert len(queue.messages) == MAX_REQUEUES
    status = decode_status(storage.get(status_key(job.image_id)).body)
    assert status.state is ImageState.FAILED
    assert status.delete_token_sha256 == DIGEST  # still deletable
    assert pending_key(job.image_id) not in storage.objects


def test_giving_up_queues_image_failed_before_the_marker_goes() -> None:
    storage, queue, webhook_queue = FakeStorage(), FakeQueue(), FakeQueue()
    job = _uploaded(storage, age=STALE + 1)
    marker = marker_object(job)
    requeued = PendingMarker(decode_marker(marker.body).job_body, MAX_REQUEUES)
    storage.put(marker.key, encode_marker(requeued), "application/json", immutable=False)
    storage.modified[marker.key] = time.time() - STALE - 1
    settings = CommonSettings.from_env({"SHARER_SITE_URL": "https://images.example"})
    announce = Announcer(QueuedWebhookEvents(webhook_queue), settings)
    reconciler = PendingReconciler(storage, queue, stale_seconds=STALE, batch=10, announce=announce)
    assert reconciler.run_once().given_up == [job.image_id]
    (message,) = webhook_queue.messages.values()
    event = json.loads(decode_event(message.body).payload)
    assert (event["type"], event["data"]["id"]) == ("image.failed", job.image_id)
    assert event["data"]["status"] == "failed"


def test_a_marker_left_by_a_finished_job_is_cleared() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    job = _uploaded(storage, age=STALE + 1)
    ready = status_for_job(job).with_state(ImageState.READY)
    storage.put(status_key(job.image_id), encode_status(ready), "application/json")
    assert _reconciler(storage, queue).run_once().cleared == [job.image_id]
    assert pending_key(job.image_id) not in storage.objects
    assert _state(storage, job) is ImageState.READY
    assert queue.messages == {}


@pytest.mark.parametrize("deleted", [True, False])
def test_without_a_status_the_leftovers_are_removed(deleted: bool) -> None:
    storage, queue = FakeStorage(), FakeQueue()
    job = _uploaded(storage, age=STALE + 1)
    if deleted:
        leave_tombstone(storage, job.image_id)
    storage.delete(status_key(job.image_id))
    assert _reconciler(storage, queue).run_once().cleared == [job.image_id]
    left = [key for key in storage.objects if job.image_id in key]
    assert left == ([f"deleted/{job.image_id}.json"] if deleted else [])
    assert queue.messages == {}


def test_a_delete_during_the_pass_wins() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    job = _uploaded(storage, age=STALE + 1)
    send = queue.send

    def delete_meanwhile(body: str) -> None:
        send(body)
        leave_tombstone(storage, job.image_id)
        storage.delete_all([job.original_key, pending_key(job.image_id), status_key(job.image_id)])

    queue.send = delete_meanwhile  # type: ignore[method-assign]
    assert _reconciler(storage, queue).run_once().requeued == []
    assert [key for key in storage.objects if job.image_id in key] == [
        f"deleted/{job.image_id}.json"
    ]
