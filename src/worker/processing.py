"""What a worker does with one delivery: thumbnails stored, status ready, message deleted.

The message is deleted last, so a crash at any point means redelivery, and redelivery is
harmless: the same keys get the same bytes. A job that can never succeed (unreadable
message, missing original, undecodable image) is marked failed and dead-lettered at once;
a job that fails for a passing reason is retried with backoff until its last receive.
"""

import logging
import time

from sharer.messages import MessageError, ThumbnailJob, decode_job
from sharer.queues import Delivery, Queue
from sharer.status import ImageState, encode_status, pending_status
from sharer.storage import NewObject, ObjectNotFound, Storage
from sharer.variants import status_key
from worker.memory import MemoryBudget
from worker.thumbnails import ThumbnailError, decode_cost, make_thumbnails

log = logging.getLogger("sharer.worker")

# Backoff before a failed job is retried: 2, 4, 8... seconds, capped.
MAX_BACKOFF_SECONDS = 300


class JobProcessor:
    """Handles deliveries with the given backends; safe to share between threads."""

    def __init__(
        self,
        storage: Storage,
        queue: Queue,
        *,
        max_receives: int,
        memory: MemoryBudget | None = None,
    ) -> None:
        self.storage = storage
        self.queue = queue
        self.max_receives = max_receives
        # None: jobs decode without waiting for memory.
        self.memory = memory

    def handle(self, delivery: Delivery) -> None:
        """Process one delivery to its end: done, retried later, or dead-lettered."""
        try:
            job = decode_job(delivery.body)
        except MessageError as exc:
            self._dead_letter(delivery, None, f"unreadable message: {exc}")
            return
        started = time.perf_counter()
        try:
            self._make_and_store(job)
        except ObjectNotFound:
            self._dead_letter(delivery, job, "the original image is missing")
        except ThumbnailError as exc:
            self._dead_letter(delivery, job, f"the image could not be thumbnailed: {exc}")
        except Exception as exc:  # noqa: BLE001 - any other failure may pass; retry it
            self._retry_later(delivery, job, exc)
        else:
            self.queue.delete(delivery.receipt)
            log.info(
                "thumbnails ready",
                extra={
                    "image_id": job.image_id,
                    "receive_count": delivery.receive_count,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )

    def _make_and_store(self, job: ThumbnailJob) -> None:
        original = self.storage.get(job.original_key)
        if self.memory is None:
            encoded = make_thumbnails(original.body, job.original_format, job.thumbnails)
        else:
            cost = decode_cost(original.body, job.original_format, job.thumbnails)
            with self.memory.reserved(cost):
                encoded = make_thumbnails(original.body, job.original_format, job.thumbnails)
        # Made again if the job is redone, so they may be served before they are synced.
        self.storage.put_all_regenerable(
            [
                NewObject(spec.key, encoded[spec.name], spec.image_format.media_type)
                for spec in job.thumbnails
            ]
        )
        self._record(job, ImageState.READY, None)

    def _record(self, job: ThumbnailJob, state: ImageState, reason: str | None) -> None:
        status = pending_status(job).with_state(state, reason)
        self.storage.put(
            status_key(job.image_id), encode_status(status), "application/json", immutable=False
        )

    def _retry_later(self, delivery: Delivery, job: ThumbnailJob, exc: Exception) -> None:
        if delivery.receive_count >= self.max_receives:
            self._dead_letter(
                delivery, job, f"gave up after {delivery.receive_count} attempts: {exc!r}"
            )
            return
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

    def _dead_letter(self, delivery: Delivery, job: ThumbnailJob | None, reason: str) -> None:
        # Record the failure first: if that write fails, the message stays and comes back.
        if job is not None:
            self._record(job, ImageState.FAILED, reason)
        self.queue.dead_letter(delivery, reason)
        log.error(
            "job dead-lettered",
            extra={
                "image_id": job.image_id if job else None,
                "receive_count": delivery.receive_count,
                "reason": reason,
            },
        )
