"""Deleting an image, shared by the server's delete route, the worker, the expiry reaper
and ``sharer-admin takedown``.

A delete first leaves a tombstone, then removes the image's objects, tells the CDN to
forget them, announces the end (webhook event), and removes its status record last (so a
delete cut short can be retried: everything before is safe to do again). The worker never
writes a tombstone and checks for one after every status it writes, so a job still
running when its image was deleted undoes what it wrote: the delete wins whatever the
interleaving (see ``worker.processing``).
"""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sharer.edge_cache import EdgeCache
from sharer.key_scheme import pending_key, status_key, tombstone_key, variant_key
from sharer.status import ImageStatus
from sharer.storage import ObjectNotFound, Storage
from sharer.thumbnail_variants import VARIANT_FORMATS
from sharer.webhook_events import EventType, WebhookEvents


class Ending(StrEnum):
    """Why an image was removed, as its tombstone records it."""

    DELETED = "deleted"  # with its delete token
    EXPIRED = "expired"  # its expires_at passed (reconciler.expiry)
    TAKEN_DOWN = "taken_down"  # by the operator (sharer-admin takedown)

    @property
    def event_type(self) -> EventType:
        """The webhook event announcing it: a takedown is a delete to a receiver."""
        return EventType.EXPIRED if self is Ending.EXPIRED else EventType.DELETED

    @property
    def public_state(self) -> str:
        """The status a removed image's document shows."""
        return "expired" if self is Ending.EXPIRED else "deleted"


@dataclass(frozen=True)
class Tombstone:
    """What a delete leaves behind."""

    # False until the CDN has been told to forget the image: a delete whose status the
    # worker removed before the CDN answered is finished by the next delete request.
    cdn_forgotten: bool
    ending: Ending = Ending.DELETED
    # The operator's words for a takedown; None otherwise.
    reason: str | None = None


# The tombstone a delete with the token leaves first.
DELETE_BEGUN = Tombstone(cdn_forgotten=False)


def leave_tombstone(storage: Storage, image_id: str, tombstone: Tombstone = DELETE_BEGUN) -> None:
    """Record that the image was removed: its id, the time, why, and whether the CDN has
    been told to forget it (no image data, no token digest)."""
    doc: dict[str, object] = {
        "id": image_id,
        "deleted_at": int(time.time()),
        "cdn_forgotten": tombstone.cdn_forgotten,
        "ending": tombstone.ending.value,
    }
    if tombstone.reason is not None:
        doc["reason"] = tombstone.reason
    storage.put(
        tombstone_key(image_id), json.dumps(doc).encode(), "application/json", immutable=False
    )


def tombstone_of(storage: Storage, image_id: str) -> Tombstone | None:
    """The image's tombstone, or None if no delete of it has begun."""
    if not storage.exists(tombstone_key(image_id)):
        return None
    try:
        doc = json.loads(storage.get(tombstone_key(image_id)).body)
    except ObjectNotFound:  # operators may expire tombstones
        return None
    # Tombstones written before endings were recorded are all deletes.
    return Tombstone(
        cdn_forgotten=bool(doc.get("cdn_forgotten")),
        ending=Ending(doc.get("ending", Ending.DELETED.value)),
        reason=doc.get("reason"),
    )


def is_deleted(storage: Storage, image_id: str) -> bool:
    """Whether a delete of the image has begun (its tombstone exists)."""
    return storage.exists(tombstone_key(image_id))


def remove_image_objects(storage: Storage, status: ImageStatus) -> None:
    """Remove the original, every thumbnail and its variants, and the pending marker; not
    the status."""
    variants = [
        variant_key(key, image_format)
        for name, key in status.keys.items()
        if name != "original"
        for image_format in VARIANT_FORMATS
    ]
    # A set: a WebP thumbnail's WebP "variant" is the thumbnail itself.
    keys = sorted({*status.keys.values(), *variants, pending_key(status.image_id)})
    storage.delete_all(keys)


def remove_status(storage: Storage, image_id: str) -> None:
    """Remove the status record: the last step of a delete."""
    storage.delete(status_key(image_id))


def remove_image(
    storage: Storage,
    edge_cache: EdgeCache,
    events: WebhookEvents,
    status: ImageStatus,
    *,
    tombstone: Tombstone,
    cdn_paths: list[str],
    document: Mapping[str, object],
) -> None:
    """The whole delete of an image whose status is ``status``: tombstone first (a running
    job then undoes its own writes), the objects next, the CDN after the objects (so it
    cannot fetch them again), the event (``document``, the image's status document), the
    status last. Raises the backends' outages; every step is safe to repeat."""
    leave_tombstone(storage, status.image_id, tombstone)
    remove_image_objects(storage, status)
    forget_at_edge(storage, edge_cache, status.image_id, tombstone, cdn_paths)
    events.emit(tombstone.ending.event_type, document)
    remove_status(storage, status.image_id)


def forget_at_edge(
    storage: Storage,
    edge_cache: EdgeCache,
    image_id: str,
    tombstone: Tombstone,
    cdn_paths: list[str],
) -> None:
    """Tell the CDN to drop ``cdn_paths``, then record that in the tombstone."""
    edge_cache.forget(cdn_paths)
    leave_tombstone(
        storage,
        image_id,
        Tombstone(cdn_forgotten=True, ending=tombstone.ending, reason=tombstone.reason),
    )


def undo_if_deleted(storage: Storage, status: ImageStatus) -> bool:
    """After a write for an image by anyone but the delete route (the worker, the
    reconciler): if a delete has begun, remove what is left of the image and say so.

    Either this sees the tombstone, or the write came before the delete began and the
    delete removes it: the delete wins whatever the interleaving.
    """
    if not is_deleted(storage, status.image_id):
        return False
    remove_image_objects(storage, status)
    remove_status(storage, status.image_id)
    return True
