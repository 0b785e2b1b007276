"""Pending markers: one small object per image whose job has not ended yet.

The server writes it with the original (its body is the queued job), the worker removes
it once the image is ready or failed, and ``sharer-reconcile`` lists the prefix to find
images left pending (the server died between storing and queueing, or the queue lost the
job) and queues their jobs again. Only this prefix needs to be listable.
"""

import json
from dataclasses import dataclass

from sharer.key_scheme import pending_key
from sharer.messages import ThumbnailJob, encode_job
from sharer.storage import NewObject


@dataclass(frozen=True)
class PendingMarker:
    """The job to queue again, and how many times the reconciler already did."""

    job_body: str
    requeues: int = 0


def marker_object(job: ThumbnailJob) -> NewObject:
    """The marker to store with a fresh upload."""
    return NewObject(
        pending_key(job.image_id),
        encode_marker(PendingMarker(encode_job(job))),
        "application/json",
        immutable=False,
    )


def encode_marker(marker: PendingMarker) -> bytes:
    """Serialize for storage."""
    return json.dumps({"job": marker.job_body, "requeues": marker.requeues}).encode()


def decode_marker(data: bytes) -> PendingMarker:
    """Parse a stored marker; ``ValueError`` if it is not one."""
    doc = json.loads(data)
    if not isinstance(doc, dict) or not isinstance(doc.get("job"), str):
        raise ValueError("not a pending marker")
    requeues = doc.get("requeues", 0)
    if type(requeues) is not int or requeues < 0:
        raise ValueError("bad requeue count in a pending marker")
    return PendingMarker(doc["job"], requeues)
