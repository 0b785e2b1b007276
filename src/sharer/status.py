"""The status record of one image: pending until the worker marks it ready or failed."""

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sharer.messages import ThumbnailJob


class ImageState(StrEnum):
    """Where an image is in its life."""

    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class ImageFacts:
    """What the worker learned of a ready image, for clients to lay out a page before the
    images arrive: the original's upright size (after EXIF orientation), each thumbnail's
    size by name, and a ThumbHash placeholder (base64); for an animation, the frames of
    its thumbnails (None for a still image)."""

    width: int
    height: int
    thumbnail_sizes: dict[str, tuple[int, int]]
    thumbhash: str
    frames: int | None = None


@dataclass(frozen=True)
class ImageStatus:
    """State plus the storage key of every object of the image, by API name.

    ``delete_token_sha256`` is the digest of the token that may delete the image (None
    for an image nobody can delete); it never leaves the service. ``description`` is
    the uploader's (``sharer.descriptions``), None when none was given.
    """

    image_id: str
    state: ImageState
    keys: dict[str, str]
    reason: str | None = None
    delete_token_sha256: str | None = None
    facts: ImageFacts | None = None
    description: str | None = None
    # When the image expires (Unix seconds); None for one that never does.
    expires_at: int | None = None

    def with_state(
        self, state: ImageState, reason: str | None = None, facts: ImageFacts | None = None
    ) -> "ImageStatus":
        """A copy in another state."""
        return replace(self, state=state, reason=reason, facts=facts)


def status_for_job(job: ThumbnailJob) -> ImageStatus:
    """The record written at upload, before the job is queued."""
    keys = {"original": job.original_key} | {t.name: t.key for t in job.thumbnails}
    return ImageStatus(
        job.image_id,
        ImageState.PENDING,
        keys,
        delete_token_sha256=job.delete_token_sha256,
        description=job.description,
        expires_at=job.expires_at,
    )


def encode_status(status: ImageStatus) -> bytes:
    """Serialize for storage."""
    doc: dict[str, Any] = {
        "id": status.image_id,
        "state": status.state.value,
        "keys": status.keys,
        "reason": status.reason,
        "delete_token_sha256": status.delete_token_sha256,
    }
    if status.facts is not None:
        doc["facts"] = {
            "width": status.facts.width,
            "height": status.facts.height,
            "thumbnail_sizes": status.facts.thumbnail_sizes,
            "thumbhash": status.facts.thumbhash,
        }
        if status.facts.frames is not None:
            doc["facts"]["frames"] = status.facts.frames
    if status.description is not None:
        doc["description"] = status.description
    if status.expires_at is not None:
        doc["expires_at"] = status.expires_at
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_status(data: bytes) -> ImageStatus:
    """Parse a stored record (written by us, so a bad one is a bug and raises).

    Records written before delete tokens, facts and descriptions existed have none.
    """
    doc = json.loads(data)
    facts = doc.get("facts")
    return ImageStatus(
        doc["id"],
        ImageState(doc["state"]),
        dict(doc["keys"]),
        doc["reason"],
        doc.get("delete_token_sha256"),
        None if facts is None else _facts(facts),
        doc.get("description"),
        doc.get("expires_at"),
    )


def _facts(doc: dict[str, Any]) -> ImageFacts:
    sizes = {name: (int(size[0]), int(size[1])) for name, size in doc["thumbnail_sizes"].items()}
    frames = doc.get("frames")
    return ImageFacts(
        int(doc["width"]),
        int(doc["height"]),
        sizes,
        str(doc["thumbhash"]),
        None if frames is None else int(frames),
    )
