"""Deleting an image, shared by the server's delete route and the worker.

A delete first leaves a tombstone, then removes the image's objects, and removes its
status record last (so a delete cut short can be retried with the same token). The
worker never writes a tombstone and checks for one after every status it writes, so a
job still running when its image was deleted undoes what it wrote: the delete wins
whatever the interleaving (see ``worker.processing``).
"""

import json
import time
from dataclasses import dataclass

from sharer.key_scheme import pending_key, status_key, tombstone_key, variant_key
from sharer.status import ImageStatus
from sharer.storage import ObjectNotFound, Storage
from sharer.thumbnail_variants import VARIANT_FORMATS


@dataclass(frozen=True)
class Tombstone:
    """What a delete leaves behind."""

    # False until the CDN has been told to forget the image: a delete whose status the
    # worker removed before the CDN answered is finished by the next delete request.
    cdn_forgotten: bool


def leave_tombstone(storage: Storage, image_id: str, *, cdn_forgotten: bool = False) -> None:
    """Record that the image was deleted: its id, the time, and whether the CDN has been
    told to forget it (no image data, no token digest)."""
    body = json.dumps(
        {"id": image_id, "deleted_at": int(time.time()), "cdn_forgotten": cdn_forgotten}
    ).encode()
    storage.put(tombstone_key(image_id), body, "application/json", immutable=False)


def tombstone_of(storage: Storage, image_id: str) -> Tombstone | None:
    """The image's tombstone, or None if no delete of it has begun."""
    if not storage.exists(tombstone_key(image_id)):
        return None
    try:
        doc = json.loads(storage.get(tombstone_key(image_id)).body)
    except ObjectNotFound:  # operators may expire tombstones
        return None
    return Tombstone(cdn_forgotten=bool(doc.get("cdn_forgotten")))


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
