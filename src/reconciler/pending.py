"""Images left pending: queue their jobs again, or give up on them, a bounded batch a run.

An image stays pending for good if the server stored it and then died before the queue
took its job, or if the queue lost the job (dead-lettered by SQS after worker crashes).
Each such image has a pending marker (``sharer.pending_markers``) older than the stale age; the
job is idempotent, so queueing it again is always safe, even if it was only slow. A pass
lists every marker (one request per ``SCAN_PAGE``) and acts on the ``batch`` stalest. After
``MAX_REQUEUES`` tries the image is marked failed, so a poison job cannot loop forever.

Every write here is followed by the tombstone check, so a delete wins over the
reconciler as it does over the worker.
"""

import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sharer.deletion import remove_image_objects, undo_if_deleted
from sharer.ids import is_image_id
from sharer.key_scheme import PENDING_PREFIX, pending_key, status_key
from sharer.messages import MessageError, decode_job
from sharer.pending_markers import PendingMarker, decode_marker, encode_marker
from sharer.queues import Queue
from sharer.status import ImageState, ImageStatus, decode_status, encode_status, status_for_job
from sharer.status_documents import Announcer
from sharer.storage import ObjectNotFound, Storage
from sharer.webhook_events import EventType

log = logging.getLogger("sharer.reconciler")

# Queued again this many times without ending: the image is marked failed.
MAX_REQUEUES = 3
# Markers listed per request: one S3 list page.
SCAN_PAGE = 1000


@dataclass
class ReconcileReport:
    """What one run did, for its log line."""

    scanned: int = 0
    requeued: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)


class PendingReconciler:
    """Finds stale pending markers and acts on at most ``batch`` of them per run."""

    def __init__(
        self,
        storage: Storage,
        queue: Queue,
        *,
        stale_seconds: int,
        batch: int,
        clock: Callable[[], float] = time.time,
        announce: Announcer | None = None,
    ) -> None:
        self.storage = storage
        self.queue = queue
        self.stale_seconds = stale_seconds
        self.batch = batch
        self.clock = clock
        # None: giving up on an image queues no image.failed webhook event.
        self.announce = announce

    def run_once(self) -> ReconcileReport:
        """One bounded pass; raises ``StorageUnavailable``/``QueueUnavailable`` on outages
        (what was done before stays done: every step is safe to repeat)."""
        report = ReconcileReport()
        for key in self._stalest(report):
            self._reconcile(key, report)
        return report

    def _stalest(self, report: ReconcileReport) -> list[str]:
        """The ``batch`` stalest markers, oldest first, from a listing of every marker.

        Every marker is listed, page by page, so fresh markers (however many) never hide
        a stale one; only ``batch`` of them and one page are held at a time.
        """
        now = self.clock()
        stalest: list[tuple[float, str]] = []  # a max-heap of the youngest kept, negated
        last = ""
        while True:
            page = self.storage.list_keys(PENDING_PREFIX, limit=SCAN_PAGE, start_after=last)
            report.scanned += len(page)
            for item in page:
                if now - item.modified < self.stale_seconds:
                    continue
                entry = (-item.modified, item.key)
                if len(stalest) < self.batch:
                    heapq.heappush(stalest, entry)
                elif entry > stalest[0]:
                    heapq.heapreplace(stalest, entry)
            if len(page) < SCAN_PAGE:
                return [key for _, key in sorted(stalest, reverse=True)]
            last = page[-1].key

    def _reconcile(self, key: str, report: ReconcileReport) -> None:
        image_id = key.removeprefix(PENDING_PREFIX).removesuffix(".json")
        if not is_image_id(image_id) or key != pending_key(image_id):
            log.error("not a pending marker; left alone", extra={"key": key})
            return
        try:
            marker = decode_marker(self.storage.get(key).body)
            job = decode_job(marker.job_body)
        except ObjectNotFound:
            return  # the job ended since the listing
        except (ValueError, MessageError) as exc:
            log.error(
                "unreadable pending marker; left alone", extra={"key": key, "error": str(exc)}
            )
            return
        pending = status_for_job(job)
        # exists, not a GET's 404: on AWS this role may not list the bucket as a whole.
        if not self.storage.exists(status_key(image_id)):
            # Deleted, or an upload whose 503 cleanup failed halfway: nothing to finish.
            remove_image_objects(self.storage, pending)
            report.cleared.append(image_id)
            return
        status = decode_status(self.storage.get(status_key(image_id)).body)
        if status.state is not ImageState.PENDING:
            # The worker ended the job but stopped before removing the marker.
            self.storage.delete(key)
            report.cleared.append(image_id)
            return
        if marker.requeues >= MAX_REQUEUES:
            self._give_up(job.image_id, pending.with_state(ImageState.FAILED, _GIVE_UP), report)
            return
        self.queue.send(marker.job_body)
        # Rewriting the marker counts the try and restarts its stale clock.
        requeued = PendingMarker(marker.job_body, marker.requeues + 1)
        self.storage.put(key, encode_marker(requeued), "application/json", immutable=False)
        if not undo_if_deleted(self.storage, pending):
            report.requeued.append(image_id)

    def _give_up(self, image_id: str, failed: ImageStatus, report: ReconcileReport) -> None:
        if self.announce is not None:
            # First: while the status is still pending, a pass cut short here (the
            # event not queued) leaves everything for the next pass to give up again.
            self.announce(EventType.FAILED, failed)
        self.storage.put(
            status_key(image_id), encode_status(failed), "application/json", immutable=False
        )
        if undo_if_deleted(self.storage, failed):
            return
        self.storage.delete(pending_key(image_id))
        report.given_up.append(image_id)


_GIVE_UP = f"not processed after {MAX_REQUEUES} re-queues by the reconciler"
