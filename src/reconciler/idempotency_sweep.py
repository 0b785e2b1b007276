"""Idempotency records past their retention: removed, a bounded batch a run.

On AWS the media bucket's lifecycle rule expires the prefix as well (``cdk.image_bucket``);
this pass is what removes them from a local store, and on S3 it only finds what the rule
has not reached yet. A pass looks at one listing page, in key order, so on a store with
more live records than a page it may look at young ones only; the lifecycle rule has no
such bound.
"""

from sharer.key_scheme import IDEMPOTENCY_PREFIX, IDEMPOTENCY_RETENTION_SECONDS
from sharer.storage import Storage

# Records looked at per run: one S3 list page, and at most one DeleteObjects request.
SWEEP_LIMIT = 1000


def sweep_idempotency_records(
    storage: Storage, *, now: float, retention_seconds: int = IDEMPOTENCY_RETENTION_SECONDS
) -> list[str]:
    """Remove the records last written ``retention_seconds`` or more before ``now``;
    return their keys."""
    listed = storage.list_keys(IDEMPOTENCY_PREFIX, limit=SWEEP_LIMIT)
    expired = [item.key for item in listed if now - item.modified >= retention_seconds]
    storage.delete_all(expired)
    return expired
