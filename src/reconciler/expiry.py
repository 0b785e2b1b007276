"""Images past their ``expires_at``: removed the way a delete removes them, a bounded batch
a pass.

The index (``sharer.expiry``) is in expiry order, so a pass lists one page from its start
and stops at the first image not yet due. Each image is removed by
``sharer.deletion.remove_image`` (tombstone, objects, CDN, ``image.expired``, status),
then its index entry: a pass cut short leaves the entry, and the next pass does it all
again, safely. Every server runs the pass; two at once do the same safe steps twice (the
CDN is asked once per path set, a receiver may see the event twice, as at-least-once
allows).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sharer.deletion import Ending, Tombstone, remove_image
from sharer.edge_cache import EdgeCache
from sharer.expiry import parse_expiring_key
from sharer.key_scheme import EXPIRING_PREFIX, status_key
from sharer.settings import CommonSettings
from sharer.status import decode_status
from sharer.status_documents import cdn_paths, status_document
from sharer.storage import ObjectNotFound, Storage
from sharer.webhook_events import WebhookEvents

log = logging.getLogger("sharer.reconciler")

_EXPIRED = Tombstone(cdn_forgotten=False, ending=Ending.EXPIRED)


@dataclass
class ExpiryReaper:
    """Removes at most ``batch`` expired images per pass."""

    storage: Storage
    edge_cache: EdgeCache
    events: WebhookEvents
    settings: CommonSettings
    batch: int
    clock: Callable[[], float] = field(default=time.time)

    def run_once(self) -> list[str]:
        """One bounded pass; the ids of the images it removed. Raises the backends'
        outages (what was done stays done)."""
        now = self.clock()
        reaped: list[str] = []
        for item in self.storage.list_keys(EXPIRING_PREFIX, limit=self.batch):
            parsed = parse_expiring_key(item.key)
            if parsed is None:
                log.error("not an expiry index entry; left alone", extra={"key": item.key})
                continue
            expires_at, image_id = parsed
            if expires_at > now:
                break
            if self._reap(image_id):
                reaped.append(image_id)
            self.storage.delete(item.key)
        return reaped

    def _reap(self, image_id: str) -> bool:
        """Remove the image if it is still there; False if it was gone already."""
        try:
            status = decode_status(self.storage.get(status_key(image_id)).body)
        except ObjectNotFound:
            return False  # deleted by its owner, taken down, or never fully stored
        remove_image(
            self.storage,
            self.edge_cache,
            self.events,
            status,
            tombstone=_EXPIRED,
            cdn_paths=cdn_paths(self.settings, image_id),
            document=status_document(status, self.settings, state=Ending.EXPIRED.public_state),
        )
        log.info("image expired", extra={"image_id": image_id})
        return True
