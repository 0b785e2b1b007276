"""Images made before variants get them: the backfill queues their jobs again, and the
worker makes the variants and the same ready status."""

from reconciler.variant_backfill import backfill_variants
from sharer.formats import AVIF, JPEG, PNG
from sharer.ids import new_image_id
from sharer.key_scheme import status_key, variant_key
from sharer.messages import ThumbnailJob, encode_job, job_for_upload
from sharer.status import ImageState, decode_status, encode_status, status_for_job
from sharer.thumbnail_variants import variants_of
from support import images
from support.fakes import FakeQueue, FakeStorage
from worker.processing import JobProcessor

DIGEST = "cd" * 32


def _made_before_variants(storage: FakeStorage, queue: FakeQueue, alpha: bool) -> ThumbnailJob:
    """A ready image whose variants are missing, as one made by an earlier version."""
    image_format = PNG if alpha else JPEG
    job = job_for_upload(new_image_id(), image_format, alpha, delete_token_sha256=DIGEST)
    data = images.png((400, 300)) if alpha else images.jpeg((400, 300))
    storage.put(job.original_key, data, image_format.media_type)
    queue.send(encode_job(job))
    (delivery,) = queue.receive(1, 0)
    JobProcessor(storage, queue, max_receives=3).handle(delivery)
    for spec in job.thumbnails:
        for variant in variants_of(spec.image_format, spec.name):
            storage.delete(variant_key(spec.key, variant))
    return job


def test_ready_jpeg_images_get_their_variants_and_keep_their_status() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    old = _made_before_variants(storage, queue, alpha=False)
    _made_before_variants(storage, queue, alpha=True)  # WebP thumbnails: no variants
    pending = job_for_upload(new_image_id(), JPEG, False)
    storage.put(status_key(pending.image_id), encode_status(status_for_job(pending)), "x")
    ready_before = storage.get(status_key(old.image_id)).body

    page = backfill_variants(storage, queue)
    assert page.requeued == [old.image_id]
    assert page.next_start_after is None
    (delivery,) = queue.receive(10, 0)
    JobProcessor(storage, queue, max_receives=3).handle(delivery)

    for spec in old.thumbnails:
        assert storage.get(variant_key(spec.key, AVIF)).content_type == AVIF.media_type
    status = decode_status(storage.get(status_key(old.image_id)).body)
    assert status.state is ImageState.READY
    assert status.delete_token_sha256 == DIGEST
    assert status == decode_status(ready_before)


def test_pages_go_on_from_the_last_key() -> None:
    storage, queue = FakeStorage(), FakeQueue()
    made = {_made_before_variants(storage, queue, alpha=False).image_id for _ in range(3)}
    seen, start = [], ""
    for _ in range(5):
        page = backfill_variants(storage, queue, start_after=start, limit=2)
        seen += page.requeued
        if page.next_start_after is None:
            break
        start = page.next_start_after
    assert sorted(seen) == sorted(made)
