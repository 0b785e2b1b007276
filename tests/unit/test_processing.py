"""One delivery through the worker's job handling, on fakes with the real thumbnailer."""

import io

import pytest
from PIL import Image

from sharer.formats import JPEG
from sharer.ids import new_image_id
from sharer.key_scheme import status_key
from sharer.messages import ThumbnailJob, encode_job, job_for_upload
from sharer.queues import Delivery
from sharer.status import ImageState, decode_status
from sharer.status_wakeups import RecheckingStatusWakeups
from sharer.storage import IMMUTABLE_CACHE_CONTROL
from support import images
from support.fakes import FakeQueue, FakeStorage
from worker.processing import JobProcessor

MAX_RECEIVES = 3


@pytest.fixture
def processor(storage: FakeStorage, queue: FakeQueue) -> JobProcessor:
    return JobProcessor(storage, queue, max_receives=MAX_RECEIVES)


def _queued(storage: FakeStorage, queue: FakeQueue, original: bytes) -> ThumbnailJob:
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    storage.put(job.original_key, original, "image/jpeg")
    queue.send(encode_job(job))
    return job


def _receive(queue: FakeQueue) -> Delivery:
    (delivery,) = queue.receive(1, 0)
    return delivery


def _status(storage: FakeStorage, job: ThumbnailJob) -> ImageState:
    return decode_status(storage.get(status_key(job.image_id)).body).state


def test_stores_each_thumbnail_marks_ready_then_deletes(
    storage: FakeStorage, queue: FakeQueue, processor: JobProcessor
) -> None:
    job = _queued(storage, queue, images.jpeg((1200, 800)))
    processor.handle(_receive(queue))
    for spec in job.thumbnails:
        stored = storage.get(spec.key)
        assert stored.content_type == "image/jpeg"
        assert stored.cache_control == IMMUTABLE_CACHE_CONTROL
        with Image.open(io.BytesIO(stored.body)) as thumb:
            assert thumb.width == spec.width  # landscape: the width fills the box
            assert thumb.height <= spec.height
    assert _status(storage, job) is ImageState.READY
    assert queue.messages == {}


def test_redelivery_rewrites_the_same_bytes(
    storage: FakeStorage, queue: FakeQueue, processor: JobProcessor
) -> None:
    job = _queued(storage, queue, images.jpeg((800, 600)))
    message = encode_job(job)
    processor.handle(_receive(queue))
    first = {t.key: storage.get(t.key).body for t in job.thumbnails}
    queue.send(message)
    processor.handle(_receive(queue))
    assert {t.key: storage.get(t.key).body for t in job.thumbnails} == first
    assert queue.messages == {}


def test_an_unreadable_message_is_dead_lettered_at_once(
    queue: FakeQueue, processor: JobProcessor
) -> None:
    queue.send('{"version": 99}')
    processor.handle(_receive(queue))
    assert queue.messages == {}
    ((body, reason),) = queue.dead
    assert body == '{"version": 99}'
    assert "schema version" in reason


@pytest.mark.parametrize(
    ("original", "complaint"),
    [(None, "missing"), (b"\xff\xd8\xff\xe0 not really a jpeg", "could not be thumbnailed")],
)
def test_permanent_failures_are_marked_failed_and_dead_lettered(
    storage: FakeStorage,
    queue: FakeQueue,
    processor: JobProcessor,
    original: bytes | None,
    complaint: str,
) -> None:
    job = _queued(storage, queue, original or b"")
    if original is None:
        storage.delete(job.original_key)
    processor.handle(_receive(queue))
    assert _status(storage, job) is ImageState.FAILED
    reason = decode_status(storage.get(status_key(job.image_id)).body).reason
    assert reason is not None
    assert complaint in reason
    assert len(queue.dead) == 1
    assert queue.messages == {}


def test_a_passing_failure_is_retried_with_backoff_then_given_up(
    storage: FakeStorage, queue: FakeQueue, processor: JobProcessor
) -> None:
    job = _queued(storage, queue, images.jpeg((400, 300)))
    storage.fail_puts_to = {"/large."}
    backoffs = []
    for _ in range(MAX_RECEIVES - 1):
        delivery = _receive(queue)
        processor.handle(delivery)
        message = queue.held(delivery.receipt)
        backoffs.append(message.hidden_for)
        # Never marked ready (nor failed) while a thumbnail is missing and a retry is due.
        assert status_key(job.image_id) not in storage.objects
        queue.change_visibility(delivery.receipt, 0)  # time passes
    assert backoffs == [2, 4]
    assert queue.dead == []
    processor.handle(_receive(queue))
    assert _status(storage, job) is ImageState.FAILED
    assert "gave up after 3 attempts" in queue.dead[0][1]


class RecordingWakeups(RecheckingStatusWakeups):
    """Notes, at each wake-up, which of the image's objects a woken reader would find."""

    def __init__(self, storage: FakeStorage, job: ThumbnailJob) -> None:
        self.storage = storage
        self.job = job
        self.seen: list[tuple[str, bool, ImageState | None]] = []

    def notify(self, image_id: str) -> None:
        thumbnails = all(spec.key in self.storage.objects for spec in self.job.thumbnails)
        state = (
            _status(self.storage, self.job)
            if status_key(self.job.image_id) in self.storage.objects
            else None
        )
        self.seen.append((image_id, thumbnails, state))


def test_waiting_readers_are_woken_once_thumbnails_then_status_are_stored(
    storage: FakeStorage, queue: FakeQueue
) -> None:
    job = _queued(storage, queue, images.jpeg((800, 600)))
    wakeups = RecordingWakeups(storage, job)
    JobProcessor(storage, queue, max_receives=MAX_RECEIVES, wakeups=wakeups).handle(_receive(queue))
    assert wakeups.seen == [
        (job.image_id, True, None),
        (job.image_id, True, ImageState.READY),
    ]


def test_waiting_readers_are_woken_when_a_job_fails(storage: FakeStorage, queue: FakeQueue) -> None:
    job = _queued(storage, queue, b"\xff\xd8\xff\xe0 not really a jpeg")
    wakeups = RecordingWakeups(storage, job)
    JobProcessor(storage, queue, max_receives=MAX_RECEIVES, wakeups=wakeups).handle(_receive(queue))
    assert wakeups.seen == [(job.image_id, False, ImageState.FAILED)]
