"""Accepting an upload: store the original, record it pending, queue its job.

A 202 is a promise that the thumbnails will exist, so it is given only once the original
and its status are stored and the queue has accepted the job. If any step fails, what was
already stored is removed and the caller answers 503.
"""

import logging
import time
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from server import privacy
from server.inspection import DEFAULT_ANIMATION_LIMITS, AnimationLimits, inspect_upload
from sharer.expiry import expiring_key, expiry_tags
from sharer.formats import ACCEPTED, ImageFormat
from sharer.ids import new_image_id
from sharer.key_scheme import status_key
from sharer.messages import ThumbnailJob, encode_job, job_for_upload
from sharer.pending_markers import marker_object
from sharer.queues import Queue, QueueUnavailable
from sharer.status import encode_status, status_for_job
from sharer.storage import NewObject, Storage, StorageUnavailable

log = logging.getLogger("sharer.server")


@dataclass(frozen=True)
class PlannedUpload:
    """A checked upload and the objects that will store it, before any is written."""

    job: ThumbnailJob
    objects: list[NewObject]


def plan_upload(
    data: bytes,
    *,
    max_pixels: int,
    delete_token_sha256: str,
    strip_metadata: bool = False,
    accepted_formats: Collection[ImageFormat] = tuple(ACCEPTED.values()),
    image_id: str | None = None,
    costly_proof_slot: Callable[[], AbstractContextManager[object]] = nullcontext,
    animation_limits: AnimationLimits = DEFAULT_ANIMATION_LIMITS,
    description: str | None = None,
    expires_at: int | None = None,
) -> PlannedUpload:
    """Validate ``data`` and plan its job and objects; nothing is stored yet.

    ``delete_token_sha256`` (see ``sharer.delete_tokens``) goes into the status record and
    the job, for the worker's record to keep it. With ``strip_metadata`` the original is
    stored without its metadata (see ``server.privacy``), otherwise byte for byte as
    uploaded. ``accepted_formats`` are the formats the operator allows. ``image_id`` is
    a fresh id unless given (an upload taken over under its Idempotency-Key keeps the id
    its first attempt planned). ``costly_proof_slot`` bounds the costly decode proofs
    and ``animation_limits`` the animations (see ``server.inspection``); an animation's
    thumbnails are animated WebP. ``description`` (normalized, see
    ``sharer.descriptions``) is kept in the job and the status record. ``expires_at``
    (Unix seconds) makes an image that expires (``sharer.expiry``): its objects are
    tagged and indexed for the reaper.

    Raises ``InvalidImage`` for bytes we refuse, and whatever ``costly_proof_slot``
    raises (``server.proof_slots.ProofsBusy``) when it refuses.
    """
    image = inspect_upload(
        data,
        max_pixels=max_pixels,
        accepted=accepted_formats,
        costly_proof_slot=costly_proof_slot,
        animation_limits=animation_limits,
    )
    if strip_metadata:
        data = privacy.strip_walked(image.walked)
    job = job_for_upload(
        image_id or new_image_id(),
        image.image_format,
        image.has_alpha,
        delete_token_sha256=delete_token_sha256,
        animation=image.animation,
        description=description,
        expires_at=expires_at,
    )
    tags = expiry_tags(expires_at, time.time())
    objects = [
        NewObject(job.original_key, data, image.image_format.media_type, tags=tags),
        NewObject(
            status_key(job.image_id),
            encode_status(status_for_job(job)),
            "application/json",
            immutable=False,
            tags=tags,
        ),
        # Until the job ends; how the reconciler finds it if the send below never lands.
        marker_object(job),
    ]
    if expires_at is not None:
        # How the reaper finds it (reconciler.expiry).
        objects.append(
            NewObject(
                expiring_key(job.image_id, expires_at),
                b"{}",
                "application/json",
                immutable=False,
                tags=tags,
            )
        )
    return PlannedUpload(job, objects)


def store_upload(planned: PlannedUpload, *, storage: Storage, queue: Queue) -> None:
    """Store the planned objects and queue the job.

    Raises ``StorageUnavailable`` or ``QueueUnavailable`` when a backend fails (nothing
    is left behind in that case).
    """
    try:
        storage.put_all(planned.objects)
        queue.send(encode_job(planned.job))
    except (StorageUnavailable, QueueUnavailable):
        _remove(storage, [item.key for item in planned.objects], planned.job.image_id)
        raise


def accept_upload(
    data: bytes,
    *,
    storage: Storage,
    queue: Queue,
    max_pixels: int,
    delete_token_sha256: str,
    strip_metadata: bool = False,
    accepted_formats: Collection[ImageFormat] = tuple(ACCEPTED.values()),
) -> ThumbnailJob:
    """``plan_upload`` then ``store_upload``: validate, store and queue; return the job.

    Raises ``InvalidImage`` for bytes we refuse, and ``StorageUnavailable`` or
    ``QueueUnavailable`` when a backend fails (nothing is left behind in that case).
    """
    planned = plan_upload(
        data,
        max_pixels=max_pixels,
        delete_token_sha256=delete_token_sha256,
        strip_metadata=strip_metadata,
        accepted_formats=accepted_formats,
    )
    store_upload(planned, storage=storage, queue=queue)
    return planned.job


def _remove(storage: Storage, keys: list[str], image_id: str) -> None:
    """Undo a half-done upload (removing a key never written is harmless); an object we
    fail to remove is logged, never hidden."""
    for key in reversed(keys):
        try:
            storage.delete(key)
        except StorageUnavailable:
            log.exception("orphan left behind", extra={"image_id": image_id, "key": key})
