"""The status record of one image: pending until the worker marks it ready or failed."""

import json
from dataclasses import dataclass, replace
from enum import StrEnum

from sharer.messages import ThumbnailJob


class ImageState(StrEnum):
    """Where an image is in its life."""

    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class ImageStatus:
    """State plus the storage key of every object of the image, by API name."""

    image_id: str
    state: ImageState
    keys: dict[str, str]
    reason: str | None = None

    def with_state(self, state: ImageState, reason: str | None = None) -> "ImageStatus":
        """A copy in another state."""
        return replace(self, state=state, reason=reason)


def pending_status(job: ThumbnailJob) -> ImageStatus:
    """The record written at upload, before the job is queued."""
    keys = {"original": job.original_key} | {t.name: t.key for t in job.thumbnails}
    return ImageStatus(job.image_id, ImageState.PENDING, keys)


def encode_status(status: ImageStatus) -> bytes:
    """Serialize for storage."""
    doc = {
        "id": status.image_id,
        "state": status.state.value,
        "keys": status.keys,
        "reason": status.reason,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_status(data: bytes) -> ImageStatus:
    """Parse a stored record (written by us, so a bad one is a bug and raises)."""
    doc = json.loads(data)
    return ImageStatus(doc["id"], ImageState(doc["state"]), dict(doc["keys"]), doc["reason"])
