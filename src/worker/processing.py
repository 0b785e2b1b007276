"""What a worker does with one delivery: thumbnails stored, status ready, message deleted.

The message is deleted last (beside the pending marker, which is independent of it), so
a crash at any point means redelivery, and redelivery is harmless: the same keys get the
same bytes. A job that can never succeed (unreadable
message, missing original, undecodable image) is marked failed and dead-lettered at once;
a job that fails for a passing reason is retried with backoff until its last receive.

A delete wins over a running job: after writing a status the worker looks for the
image's tombstone (which only a delete writes, before it removes anything) and, if there
is one, removes what it wrote. Either the check sees the tombstone, or every write came
before the delete began and the delete removes them (see ``sharer.deletion``).
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import KW_ONLY, dataclass, field

from sharer.deletion import undo_if_deleted
from sharer.expiry import expiry_tags
from sharer.formats import WEBP
from sharer.key_scheme import pending_key, status_key, variant_key
from sharer.messages import MessageError, ThumbnailJob, decode_job
from sharer.queues import Delivery, Queue, QueueUnavailable
from sharer.status import ImageFacts, ImageState, ImageStatus, encode_status, status_for_job
from sharer.status_documents import Announcer
from sharer.status_wakeups import StatusWakeups
from sharer.storage import NewObject, ObjectNotFound, Storage, StorageUnavailable
from sharer.webhook_events import EventType
from worker.animated_thumbnails import animation_cost, render_animated_thumbnails
from worker.memory import MemoryBudget, return_freed_memory
from worker.ready_metric import ready_latency_fields
from worker.thumbnails import RenderedThumbnails, ThumbnailError, decode_cost, render_thumbnails

# Backoff before a failed job is retried: 2, 4, 8... seconds, capped.
MAX_BACKOFF_SECONDS = 300

log = logging.getLogger("sharer.worker")


class JobObserver:
    """Told how jobs end (``worker.job_metrics`` counts it); this one ignores it."""

    def ready(self, thumbnails: int, latency_seconds: float | None) -> None:
        """A job's ``thumbnails`` are stored, ``latency_seconds`` after its 202 (None
        for a job queued before jobs carried their enqueue time)."""

    def failed(self, dead_lettered: bool) -> None:
        """A job failed: retried later, or (``dead_lettered``) given up on."""


@dataclass(frozen=True)
class JobProcessor:
    """Handles deliveries with the given backends; safe to share between threads."""

    storage: Storage
    queue: Queue
    # None: jobs decode without waiting for memory.
    memory: MemoryBudget | None = None
    _: KW_ONLY
    max_receives: int
    # None: nobody is told when a status is recorded (waiters re-check on their own).
    wakeups: StatusWakeups | None = None
    observer: JobObserver = field(default_factory=JobObserver)
    # None: no webhook events (image.ready, image.failed) are queued.
    announce: Announcer | None = None

    def handle(self, delivery: Delivery) -> None:
        """Process one delivery to its end: done, retried later, or dead-lettered."""
        try:
            job = decode_job(delivery.body)
        except MessageError as exc:
            self._dead_letter(delivery, None, f"unreadable message: {exc}")
            return
        started = time.perf_counter()
        try:
            recorded = self._make_and_store(job)
        except ObjectNotFound:
            if not self._dropped_as_deleted(delivery, job):
                self._dead_letter(delivery, job, "the original image is missing")
        except ThumbnailError as exc:
            self._dead_letter(
                delivery,
                job,
                f"the image could not be thumbnailed: {exc}",
                public="the image could not be thumbnailed",
            )
        except Exception as exc:  # noqa: BLE001 - any other failure may pass; retry it
            # On S3 a deleted original is a 403, not a 404, to a role that may not list.
            if not self._dropped_as_deleted(delivery, job):
                self._retry_later(delivery, job, exc)
        else:
            if recorded is not None and not self._announced(EventType.READY, recorded):
                return  # the message comes back: the job is redone, its event sent then
            self._finish(delivery, job, recorded is not None)
            if recorded is not None:
                ready_at = time.time()
                self.observer.ready(
                    len(job.thumbnails),
                    None if job.enqueued_at is None else max(0.0, ready_at - job.enqueued_at),
                )
            log.info(
                "thumbnails ready",
                extra={
                    "image_id": job.image_id,
                    "receive_count": delivery.receive_count,
                    # Counted as ThumbnailsMade on AWS (cdk/service_metrics.py).
                    "thumbnails": len(job.thumbnails),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    **ready_latency_fields(job.enqueued_at, time.time()),
                },
            )

    def _make_and_store(self, job: ThumbnailJob) -> ImageStatus | None:
        """Make and store the thumbnails and the ready status; None if a delete won."""
        original = self.storage.get(job.original_key)
        cost = _cost(job, original.body)
        reservation = nullcontext() if self.memory is None else self.memory.reserved(cost)
        with reservation:
            rendered = render_for_job(job, original.body)
            return_freed_memory()
        # Made again if the job is redone, so they may be served before they are synced.
        tags = expiry_tags(job.expires_at, time.time())
        # The variants first: once a thumbnail exists, so do its variants, which the edge
        # serves in its place without looking (``sharer.thumbnail_variants``).
        variants = [
            NewObject(variant_key(spec.key, image_format), body, image_format.media_type, tags=tags)
            for spec in job.thumbnails
            for image_format, body in rendered.variants[spec.name].items()
        ]
        if variants:
            self.storage.put_all_regenerable(variants)
        self.storage.put_all_regenerable(
            [
                NewObject(
                    spec.key, rendered.encoded[spec.name], spec.image_format.media_type, tags=tags
                )
                for spec in job.thumbnails
            ]
        )
        # A request waiting for a thumbnail can have it now, before the status is written.
        self._notify(job.image_id)
        width, height = rendered.original_size
        facts = ImageFacts(width, height, rendered.sizes, rendered.thumbhash, rendered.frames)
        return self._record(job, ImageState.READY, None, facts)

    def _finish(self, delivery: Delivery, job: ThumbnailJob, recorded: bool) -> None:
        """Delete the message and, if the ready status stands, the pending marker, at once.

        Neither waits for the other's round trip because neither needs the other: a
        marker left behind (a crash, a failed delete) is removed by the reconciler once
        it sees the ready status, and a message left behind redoes a finished job.
        """
        if not recorded:
            self.queue.delete(delivery.receipt)
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            marker = pool.submit(self.storage.delete, pending_key(job.image_id))
            self.queue.delete(delivery.receipt)
        try:
            marker.result()
        except StorageUnavailable as exc:
            log.warning(
                "pending marker left for the reconciler",
                exc_info=exc,
                extra={"image_id": job.image_id},
            )

    def _dropped_as_deleted(self, delivery: Delivery, job: ThumbnailJob) -> bool:
        """If the job's image was deleted, drop the job (undoing anything an earlier
        attempt wrote) and say so; False when it was not, or the store cannot tell."""
        try:
            deleted = undo_if_deleted(self.storage, status_for_job(job))
        except StorageUnavailable:
            return False  # the store is down: the usual retry decides
        if deleted:
            self.queue.delete(delivery.receipt)
            log.info("job dropped: its image was deleted", extra={"image_id": job.image_id})
        return deleted

    def _record(
        self,
        job: ThumbnailJob,
        state: ImageState,
        reason: str | None,
        facts: ImageFacts | None = None,
    ) -> ImageStatus | None:
        """Write the job's final status, unless a delete began meanwhile (then undo);
        the status if it stands."""
        status = status_for_job(job).with_state(state, reason, facts)
        self.storage.put_all(
            [
                NewObject(
                    status_key(job.image_id),
                    encode_status(status),
                    "application/json",
                    immutable=False,
                    tags=expiry_tags(job.expires_at, time.time()),
                )
            ]
        )
        deleted = undo_if_deleted(self.storage, status)
        # Requests waiting on the image read the record again (it is written, and durable).
        self._notify(job.image_id)
        if deleted:
            log.info("image deleted while its job ran", extra={"image_id": job.image_id})
            return None
        return status

    def _announced(self, event_type: EventType, status: ImageStatus) -> bool:
        """Queue the webhook event of ``status``; False (logged) if the queue is down."""
        if self.announce is None:
            return True
        try:
            self.announce(event_type, status)
        except QueueUnavailable:
            log.exception(
                "webhook event not queued; the job will be redone",
                extra={"image_id": status.image_id, "event": event_type.value},
            )
            return False
        return True

    def _notify(self, image_id: str) -> None:
        if self.wakeups is not None:
            self.wakeups.notify(image_id)

    def _retry_later(self, delivery: Delivery, job: ThumbnailJob, exc: Exception) -> None:
        if delivery.receive_count >= self.max_receives:
            self._dead_letter(
                delivery,
                job,
                f"gave up after {delivery.receive_count} attempts: {exc!r}",
                public=f"the thumbnails could not be made after {delivery.receive_count} tries",
            )
            return
        self.observer.failed(dead_lettered=False)
        backoff = min(2**delivery.receive_count, MAX_BACKOFF_SECONDS)
        log.warning(
            "job failed, will retry",
            exc_info=exc,
            extra={
                "image_id": job.image_id,
                "receive_count": delivery.receive_count,
                "retry_in_s": backoff,
            },
        )
        self.queue.change_visibility(delivery.receipt, backoff)

    def _dead_letter(
        self, delivery: Delivery, job: ThumbnailJob | None, reason: str, public: str | None = None
    ) -> None:
        # Record the failure first: if that write fails, the message stays and comes back.
        # The status is public: it says what happened in words (``public``), while the
        # details (paths, bucket names, pids in an exception) go to the log line below.
        failed = None if job is None else self._record(job, ImageState.FAILED, public or reason)
        if failed is not None:
            if not self._announced(EventType.FAILED, failed):
                return  # the message stays: it comes back, fails again and is announced
            self.storage.delete(pending_key(failed.image_id))
        self.queue.dead_letter(delivery, reason)
        self.observer.failed(dead_lettered=True)
        log.error(
            "job dead-lettered",
            extra={
                "image_id": job.image_id if job else None,
                "receive_count": delivery.receive_count,
                "reason": reason,
            },
        )


def _animated(job: ThumbnailJob) -> bool:
    """Whether the door planned animated thumbnails: an animation, and WebP at every size
    (a JPEG thumbnail of an animation is its first frame, as before animations)."""
    return job.animation is not None and all(t.image_format is WEBP for t in job.thumbnails)


def _cost(job: ThumbnailJob, data: bytes) -> int:
    """The bytes the job's rendering holds at most (``worker.memory``)."""
    if job.animation is not None and _animated(job):
        return animation_cost(data, job.original_format, job.thumbnails, job.animation)
    return decode_cost(data, job.original_format, job.thumbnails)


def render_for_job(job: ThumbnailJob, data: bytes) -> RenderedThumbnails:
    """The job's thumbnails from the original's ``data``: animated when the door planned
    an animation. Raises ``ThumbnailError`` when the original does not decode."""
    if job.animation is not None and _animated(job):
        return render_animated_thumbnails(data, job.original_format, job.thumbnails, job.animation)
    return render_thumbnails(data, job.original_format, job.thumbnails)
