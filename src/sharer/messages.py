"""The job message the server queues and the worker consumes (schema version 1).

The worker refuses anything it does not fully understand rather than guessing, so every
field is checked on decode and a ``MessageError`` names the first thing wrong.
"""

import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sharer.descriptions import InvalidDescription, normalized_description
from sharer.formats import ACCEPTED, THUMBNAIL_FORMATS, Animation, ImageFormat, thumbnail_format
from sharer.ids import is_image_id
from sharer.key_scheme import original_key, thumbnail_key
from sharer.storage.port import validate_key
from sharer.thumbnail_sizes import THUMBNAIL_SIZES

SCHEMA_VERSION = 1

# Bounds of an animation's fields: far above any setting, so only a corrupt message fails.
_MAX_FRAMES = 1_000_000
_MAX_PLAYS = 65_535  # the widest loop count a GIF, APNG or WebP can state
# A SHA-256 digest in hex, as ``sharer.delete_tokens`` writes it.
_DIGEST = re.compile(r"[0-9a-f]{64}")

T = TypeVar("T")


class MessageError(ValueError):
    """A message that is not a valid job of a schema version we understand."""


@dataclass(frozen=True)
class PlannedThumbnail:
    """One thumbnail of a job: a ``ThumbnailSize`` (name and box), where and how to store it."""

    name: str
    width: int
    height: int
    key: str
    image_format: ImageFormat


@dataclass(frozen=True)
class ThumbnailJob:
    """Everything a worker needs to turn one stored original into its thumbnails."""

    image_id: str
    original_key: str
    original_format: ImageFormat
    thumbnails: tuple[PlannedThumbnail, ...]
    # The hash of the image's delete token, carried so that the worker's status record
    # keeps it (the worker never reads the record the server wrote). Optional in the
    # schema: a job without one makes an image nobody can delete.
    delete_token_sha256: str | None = None
    # When the server queued the job (Unix seconds): the worker reports the wait from
    # here to ready. Optional, because messages queued before the field existed lack it.
    enqueued_at: float | None = None
    # An animated original (as the door counted its frames): animated WebP thumbnails.
    # Optional: a job without it is a still image, as every job was before animations.
    animation: Animation | None = None
    # The uploader's description (``sharer.descriptions``), carried for the worker's
    # status record to keep, as the delete token's hash is. Optional in the schema.
    description: str | None = None
    # When the image expires (Unix seconds): the worker tags what it writes for the
    # bucket's lifecycle backstop and keeps it in the status. None: it never expires.
    expires_at: int | None = None


def job_for_upload(
    image_id: str,
    original_format: ImageFormat,
    has_alpha: bool,
    *,
    delete_token_sha256: str | None = None,
    animation: Animation | None = None,
    description: str | None = None,
    expires_at: int | None = None,
) -> ThumbnailJob:
    """Plan the job for a fresh upload, stamped now; thumbnail keys are final from here on."""
    out = thumbnail_format(has_alpha, animated=animation is not None)
    return ThumbnailJob(
        image_id=image_id,
        original_key=original_key(image_id, original_format),
        original_format=original_format,
        thumbnails=tuple(
            PlannedThumbnail(s.name, s.width, s.height, thumbnail_key(image_id, s, out), out)
            for s in THUMBNAIL_SIZES
        ),
        delete_token_sha256=delete_token_sha256,
        enqueued_at=time.time(),
        animation=animation,
        description=description,
        expires_at=expires_at,
    )


def encode_job(job: ThumbnailJob) -> str:
    """Serialize a job as the JSON message body."""
    doc: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "id": job.image_id,
        "original": {"key": job.original_key, "format": job.original_format.name},
        "thumbnails": [
            {
                "name": t.name,
                "box": [t.width, t.height],
                "key": t.key,
                "format": t.image_format.name,
            }
            for t in job.thumbnails
        ],
    }
    if job.enqueued_at is not None:
        doc["enqueued_at"] = job.enqueued_at
    if job.delete_token_sha256 is not None:
        doc["delete_token_sha256"] = job.delete_token_sha256
    if job.animation is not None:
        doc["animation"] = {"frames": job.animation.frames, "plays": job.animation.plays}
    if job.description is not None:
        doc["description"] = job.description
    if job.expires_at is not None:
        doc["expires_at"] = job.expires_at
    return json.dumps(doc, separators=(",", ":"))


def decode_job(body: str) -> ThumbnailJob:
    """Parse and validate a message body; raise ``MessageError`` saying what is wrong."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MessageError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise MessageError("not a JSON object")
    if doc.get("version") != SCHEMA_VERSION:
        raise MessageError(f"unsupported schema version {doc.get('version')!r}")
    image_id = _field(doc, "id", str)
    if not is_image_id(image_id):
        raise MessageError("id is not an image id")
    original = _field(doc, "original", dict)
    thumbnails = _field(doc, "thumbnails", list)
    if not thumbnails:
        raise MessageError("no thumbnails")
    return ThumbnailJob(
        image_id=image_id,
        original_key=_key(original, image_id),
        original_format=_format(original),
        thumbnails=tuple(_thumbnail(t, image_id) for t in thumbnails),
        delete_token_sha256=_digest(doc),
        enqueued_at=_enqueued_at(doc),
        animation=_animation(doc),
        description=_description(doc),
        expires_at=_expires_at(doc),
    )


def _animation(doc: dict[str, Any]) -> Animation | None:
    if "animation" not in doc:
        return None
    animation = _field(doc, "animation", dict)
    frames, plays = animation.get("frames"), animation.get("plays")
    if type(frames) is not int or not 2 <= frames <= _MAX_FRAMES:
        raise MessageError(f"animation frames {frames!r} is not a frame count")
    if type(plays) is not int or not 0 <= plays <= _MAX_PLAYS:
        raise MessageError(f"animation plays {plays!r} is not a loop count")
    return Animation(frames, plays)


def _description(doc: dict[str, Any]) -> str | None:
    if "description" not in doc:
        return None
    text = _field(doc, "description", str)
    try:
        checked = normalized_description(text)
    except InvalidDescription as exc:
        raise MessageError(f"bad description: {exc}") from exc
    if checked != text:  # the server sends it normalized; anything else is not ours
        raise MessageError("description is not normalized")
    return text


def _digest(doc: dict[str, Any]) -> str | None:
    if "delete_token_sha256" not in doc:
        return None
    digest = _field(doc, "delete_token_sha256", str)
    if _DIGEST.fullmatch(digest) is None:
        raise MessageError("delete_token_sha256 is not a SHA-256 hex digest")
    return digest


def _enqueued_at(doc: dict[str, Any]) -> float | None:
    value = doc.get("enqueued_at")
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        raise MessageError(f"enqueued_at {value!r} is not a time")
    return float(value)


def _expires_at(doc: dict[str, Any]) -> int | None:
    value = doc.get("expires_at")
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise MessageError(f"expires_at {value!r} is not a time in whole seconds")
    return value


def _thumbnail(item: Any, image_id: str) -> PlannedThumbnail:
    if not isinstance(item, dict):
        raise MessageError("thumbnail is not an object")
    box = _field(item, "box", list)
    if len(box) != 2 or not all(type(n) is int and 0 < n <= 10_000 for n in box):
        raise MessageError(f"bad box {box!r}")
    return PlannedThumbnail(
        _field(item, "name", str),
        box[0],
        box[1],
        _key(item, image_id),
        _format(item, THUMBNAIL_FORMATS),
    )


def _key(item: dict[str, Any], image_id: str) -> str:
    key = _field(item, "key", str)
    # A job may only touch its own image's objects, by keys every store accepts.
    if not key.startswith(f"images/{image_id}/"):
        raise MessageError(f"key {key!r} is outside the image's prefix")
    try:
        validate_key(key)
    except ValueError as exc:
        raise MessageError(f"key {key!r} is outside what every store accepts: {exc}") from exc
    return key


def _format(item: dict[str, Any], known: Mapping[str, ImageFormat] = ACCEPTED) -> ImageFormat:
    name = _field(item, "format", str)
    if name not in known:
        raise MessageError(f"unknown format {name!r}")
    return known[name]


def _field(item: dict[str, Any], name: str, kind: type[T]) -> T:
    value = item.get(name)
    if not isinstance(value, kind):
        raise MessageError(f"field {name!r} missing or not {kind.__name__}")
    return value
