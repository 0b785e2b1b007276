"""The thumbnails every image gets, and where each object of an image is stored.

Every object of one image shares the prefix ``images/<id>/`` so CloudFront can serve
that prefix alone; the mutable status record lives apart under ``status/``.
"""

from dataclasses import dataclass

from sharer.formats import JPEG, WEBP, ImageFormat


@dataclass(frozen=True)
class Variant:
    """A thumbnail size: its name in the API and the box it must fit (aspect kept)."""

    name: str
    width: int
    height: int


# Largest first: the worker cascades each thumbnail from the previous one.
VARIANTS: tuple[Variant, ...] = (
    Variant("large", 600, 600),
    Variant("medium", 300, 300),
    Variant("small", 100, 100),
)


# The formats the worker encodes thumbnails in; a job asking for another is refused.
THUMBNAIL_FORMATS: dict[str, ImageFormat] = {f.name: f for f in (JPEG, WEBP)}


def thumbnail_format(has_alpha: bool) -> ImageFormat:
    """JPEG for opaque images; WebP keeps alpha at a fraction of PNG's size and time."""
    return WEBP if has_alpha else JPEG


def original_key(image_id: str, image_format: ImageFormat) -> str:
    """Key of the uploaded original."""
    return f"images/{image_id}/original.{image_format.extension}"


def variant_key(image_id: str, variant: Variant, image_format: ImageFormat) -> str:
    """Key of one thumbnail."""
    return f"images/{image_id}/{variant.name}.{image_format.extension}"


def status_key(image_id: str) -> str:
    """Key of the image's status record (pending, ready or failed)."""
    return f"status/{image_id}.json"


def image_prefix(image_id: str) -> str:
    """The prefix every image object (original and thumbnails) of ``image_id`` shares."""
    return f"images/{image_id}/"


def tombstone_key(image_id: str) -> str:
    """Key of the marker a delete leaves: the worker never writes it, so it outlives a job
    still running when the image was deleted (see ``worker.processing``)."""
    return f"deleted/{image_id}.json"


# Status records of images still pending, as the reconciler finds them: it may list this
# prefix and no other (the whole bucket is not listable on AWS).
PENDING_PREFIX = "pending/"


def pending_key(image_id: str) -> str:
    """Key of the pending marker, written at upload and removed once the job has ended."""
    return f"{PENDING_PREFIX}{image_id}.json"
