"""The key scheme: where each object of an image is stored, for the code and for IAM.

Every object of one image shares the prefix ``images/<id>/`` so CloudFront can serve
that prefix alone; the mutable status record lives apart under ``status/``.
"""

from sharer.formats import ImageFormat
from sharer.thumbnail_sizes import ThumbnailSize


def original_key(image_id: str, image_format: ImageFormat) -> str:
    """Key of the uploaded original."""
    return f"images/{image_id}/original.{image_format.extension}"


def thumbnail_key(image_id: str, size: ThumbnailSize, image_format: ImageFormat) -> str:
    """Key of the thumbnail of ``size``."""
    return f"images/{image_id}/{size.name}.{image_format.extension}"


def variant_key(thumbnail_key: str, image_format: ImageFormat) -> str:
    """Key of the variant in ``image_format`` of the thumbnail at ``thumbnail_key``: the
    same name with that format's extension (``sharer.thumbnail_variants``)."""
    stem, dot, _ = thumbnail_key.rpartition(".")
    if not dot:
        raise ValueError(f"{thumbnail_key!r} has no extension")
    return f"{stem}.{image_format.extension}"


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


# Idempotency records (``sharer.idempotency_records``), one per Idempotency-Key sent with
# an upload; expired by the bucket's lifecycle rule on AWS and by the reconciler.
IDEMPOTENCY_PREFIX = "idempotency/"
# How long a record is kept at least. The draft leaves it to the resource; clients retry
# within minutes, and a day covers a laptop that lost its network overnight. Here, beside
# the prefix, because the bucket's lifecycle rule (cdk.image_bucket) is derived from it.
IDEMPOTENCY_RETENTION_SECONDS = 24 * 60 * 60


def idempotency_record_key(key_digest: str) -> str:
    """Key of the record of the Idempotency-Key whose SHA-256 (hex) is ``key_digest``."""
    return f"{IDEMPOTENCY_PREFIX}{key_digest}.json"


# Expiring images (``sharer.expiry``): one index object each, listed by the reaper; and the
# tag their objects carry, one value per lifecycle rule of the bucket (cdk.image_bucket),
# which removes a tagged object a day after that many days. Ascending; the last is the
# longest expiry the settings allow.
EXPIRING_PREFIX = "expiring/"
EXPIRY_TAG = "sharer-expires-within-days"
EXPIRY_TAG_DAYS = (1, 7, 30, 90, 365)
