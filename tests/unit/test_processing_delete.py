"""The worker and deletes, on fakes: a delete wins whenever it happens, and a ready
record carries the image's facts and keeps the delete token's digest."""

import base64
import logging

import pytest

from sharer.deletion import leave_tombstone, remove_image_objects, remove_status
from sharer.formats import JPEG
from sharer.ids import new_image_id
from sharer.key_scheme import pending_key, status_key
from sharer.messages import ThumbnailJob, encode_job, job_for_upload
from sharer.pending_markers import marker_object
from sharer.status import ImageFacts, ImageState, decode_status, encode_status, status_for_job
from sharer.storage import StorageUnavailable, StoredObject
from sharer.thumbnail_sizes import THUMBNAIL_NAMES
from support import images
from support.fakes import FakeQueue, FakeStorage
from worker.processing import JobProcessor

DIGEST = "ab" * 32


class DeletedMidJob(FakeStorage):
    """A store on which the image is deleted (as the delete route does it) right after
    the worker's put of ``key_part``, as if the delete had run at that moment."""

    def __init__(self, key_part: str) -> None:
        super().__init__()
        self.key_part = key_part

    def put(self, key: str, body: bytes, content_type: str, *, immutable: bool = True) -> None:
        super().put(key, body, content_type, immutable=immutable)
        if self.key_part in key and key.startswith(("images/", "status/")):
            image_id = next(k for k in self.objects if k.startswith("status/"))[7:29]
            status = decode_status(self.objects[status_key(image_id)].body)
            leave_tombstone(self, image_id)
            remove_image_objects(self, status)
            remove_status(self, image_id)
            self.key_part = "\0"  # once


def _queued(storage: FakeStorage, queue: FakeQueue) -> ThumbnailJob:
    """What the server leaves for a fresh upload (bypassing ``put``: not the worker's)."""
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False, delete_token_sha256=DIGEST)
    for key, body in [
        (job.original_key, images.oriented_jpeg(6, (300, 400))),
        (status_key(job.image_id), encode_status(status_for_job(job))),
        (pending_key(job.image_id), marker_object(job).body),
    ]:
        storage.objects[key] = StoredObject(body, "application/octet-stream", '"x"')
    queue.send(encode_job(job))
    return job


def _assert_only_the_tombstone_is_left(
    storage: FakeStorage, queue: FakeQueue, job: ThumbnailJob
) -> None:
    """Of the image, only its tombstone; the job neither queued nor dead-lettered."""
    assert [key for key in storage.objects if job.image_id in key] == [
        f"deleted/{job.image_id}.json"
    ]
    assert queue.messages == {}
    assert queue.dead == []


def test_ready_record_has_upright_size_sizes_thumbhash_and_the_digest() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    job = _queued(storage, queue)
    JobProcessor(storage, queue, max_receives=3).handle(queue.receive(1, 0)[0])
    status = decode_status(storage.get(status_key(job.image_id)).body)
    assert status.state is ImageState.READY
    assert status.delete_token_sha256 == DIGEST
    assert isinstance(status.facts, ImageFacts)
    assert (status.facts.width, status.facts.height) == (300, 400)
    assert set(status.facts.thumbnail_sizes) == set(THUMBNAIL_NAMES)
    # Today's sizes, whatever others a fork adds: never upscaled, aspect kept.
    assert (
        status.facts.thumbnail_sizes.items()
        >= {
            "large": (300, 400),
            "medium": (225, 300),
            "small": (75, 100),
        }.items()
    )
    assert 5 <= len(base64.b64decode(status.facts.thumbhash)) <= 25
    assert pending_key(job.image_id) not in storage.objects
    assert queue.messages == {}


@pytest.mark.parametrize("moment", ["large", "medium", "small", "status/"])
def test_a_delete_at_any_write_of_the_job_leaves_nothing(moment: str) -> None:
    storage, queue = DeletedMidJob(moment), FakeQueue()
    job = _queued(storage, queue)
    JobProcessor(storage, queue, max_receives=3).handle(queue.receive(1, 0)[0])
    _assert_only_the_tombstone_is_left(storage, queue, job)


def test_a_job_whose_image_was_deleted_before_it_ran_is_dropped_not_dead_lettered() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    job = _queued(storage, queue)
    status = decode_status(storage.get(status_key(job.image_id)).body)
    leave_tombstone(storage, job.image_id)
    remove_image_objects(storage, status)
    remove_status(storage, job.image_id)
    JobProcessor(storage, queue, max_receives=3).handle(queue.receive(1, 0)[0])
    _assert_only_the_tombstone_is_left(storage, queue, job)


def test_a_deleted_original_that_is_not_a_404_still_drops_the_job() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    job = _queued(storage, queue)
    leave_tombstone(storage, job.image_id)
    # S3 answers a role that may not list the bucket 403 for a missing key.
    real_get = storage.get

    def denied(key: str) -> StoredObject:
        if key == job.original_key:
            raise StorageUnavailable("S3 get failed: AccessDenied")
        return real_get(key)

    storage.get = denied  # type: ignore[method-assign]
    JobProcessor(storage, queue, max_receives=3).handle(queue.receive(1, 0)[0])
    _assert_only_the_tombstone_is_left(storage, queue, job)


def test_a_marker_that_cannot_be_removed_is_left_to_the_reconciler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The marker and the message are removed side by side, so a failed marker delete
    # no longer redoes a finished job: the reconciler removes markers of ready images.
    storage, queue = FakeStorage(), FakeQueue()
    job = _queued(storage, queue)
    storage.fail_deletes = True
    with caplog.at_level(logging.WARNING, logger="sharer.worker"):
        JobProcessor(storage, queue, max_receives=3).handle(queue.receive(1, 0)[0])
    assert decode_status(storage.get(status_key(job.image_id)).body).state is ImageState.READY
    assert pending_key(job.image_id) in storage.objects
    assert queue.messages == {}
    assert [record.getMessage() for record in caplog.records] == [
        "pending marker left for the reconciler"
    ]
