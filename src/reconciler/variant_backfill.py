"""Queue the jobs of ready images again so that images made before variants get them.

On AWS the edge serves a thumbnail's variant without looking for it first
(``cdk.variant_function``): an image made before variants existed has none, and a
browser that names AVIF would get a 403 for it. Jobs are idempotent, so queueing a ready
image's job again makes the same thumbnails, its variants and the same ready status.
Run once after the deploy that brings variants, page by page (each run prints the key
to start after next):

    python -m reconciler.variant_backfill [--start-after status/<id>.json] [--limit 1000]
"""

import argparse
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sharer.backends import open_queue, open_storage
from sharer.formats import ACCEPTED, THUMBNAIL_FORMATS, ImageFormat
from sharer.key_scheme import status_key
from sharer.logs import configure_logging
from sharer.messages import PlannedThumbnail, ThumbnailJob, encode_job
from sharer.queues import Queue
from sharer.settings import CommonSettings, settings_or_exit
from sharer.status import ImageState, decode_status
from sharer.storage import ObjectNotFound, Storage
from sharer.thumbnail_sizes import THUMBNAIL_SIZES
from sharer.thumbnail_variants import negotiable_size

log = logging.getLogger("sharer.reconciler")
# The status records' prefix, which the reconciler's role may list.
STATUS_PREFIX = status_key("").split("/", 1)[0] + "/"


@dataclass(frozen=True)
class BackfillPage:
    """What one page did: the images queued again, and the key to start after next
    (None once the listing is done)."""

    requeued: list[str]
    next_start_after: str | None


def backfill_variants(
    storage: Storage, queue: Queue, *, start_after: str = "", limit: int = 1000
) -> BackfillPage:
    """Queue again the job of every ready image, among ``limit`` status records after
    ``start_after``, whose thumbnails get variants."""
    page = storage.list_keys(STATUS_PREFIX, limit=limit, start_after=start_after)
    requeued = []
    for item in page:
        try:
            status = decode_status(storage.get(item.key).body)
        except ObjectNotFound:
            continue  # deleted since the listing
        if status.state is not ImageState.READY:
            continue
        job = _job_of(status.image_id, status.keys, status.delete_token_sha256)
        if job is None or not any(negotiable_size(t.key) for t in job.thumbnails):
            continue
        queue.send(encode_job(job))
        requeued.append(status.image_id)
    next_start = page[-1].key if len(page) == limit else None
    return BackfillPage(requeued, next_start)


def _job_of(image_id: str, keys: dict[str, str], digest: str | None) -> ThumbnailJob | None:
    """The job that made these keys; None for keys of a shape this version does not make."""
    original = _format_of(keys.get("original", ""), ACCEPTED.values())
    thumbnails = []
    for size in THUMBNAIL_SIZES:
        key = keys.get(size.name, "")
        image_format = _format_of(key, THUMBNAIL_FORMATS.values())
        if image_format is None:
            return None
        thumbnails.append(PlannedThumbnail(size.name, size.width, size.height, key, image_format))
    if original is None:
        return None
    return ThumbnailJob(image_id, keys["original"], original, tuple(thumbnails), digest)


def _format_of(key: str, formats: Iterable[ImageFormat]) -> ImageFormat | None:
    extension = key.rpartition(".")[2]
    return next((f for f in formats if f.extension == extension), None)


def main() -> None:
    """One page of the backfill; logs what it queued and where to go on from."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-after", default="", help="a status key from the last run")
    parser.add_argument("--limit", type=int, default=1000, help="status records per run")
    args = parser.parse_args()
    settings = settings_or_exit("variant-backfill", CommonSettings)
    configure_logging(settings.log_level)
    page = backfill_variants(
        open_storage(settings), open_queue(settings), start_after=args.start_after, limit=args.limit
    )
    log.info(
        "variant backfill page done",
        extra={"requeued": len(page.requeued), "next_start_after": page.next_start_after},
    )
    print(page.next_start_after or "done")


if __name__ == "__main__":
    main()
