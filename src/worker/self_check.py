"""``sharer-worker --self-check``: whether this worker can do its job, before it counts.

On AWS a new worker's user data runs it (image-builder/scripts/sharer-worker-ready.sh)
and signals CloudFormation with the result (cfn-signal), so a worker whose role cannot
reach the queue or the bucket, or whose image cannot make thumbnails, fails the group's
creation or rolling update, which CloudFormation rolls back, instead of a deploy that
succeeds with thumbnails stopped.

It changes nothing a running worker or a user would notice: it asks both queues for an
attribute (receiving would hide a real job), asks the bucket whether a fresh image id
has a tombstone (the listing the worker makes before it writes a status), and makes
every thumbnail of two images it draws itself, opaque and transparent.
"""

import io
import logging
from collections.abc import Callable

from PIL import Image

from sharer.formats import PNG
from sharer.ids import new_image_id
from sharer.key_scheme import tombstone_key
from sharer.messages import job_for_upload
from sharer.queues import Queue, QueueUnavailable
from sharer.storage import Storage, StorageUnavailable
from worker.thumbnails import ThumbnailError, render_thumbnails

log = logging.getLogger("sharer.worker")

# Larger than the largest thumbnail box, so every thumbnail is a real resize.
PROBE_SIZE = (1200, 900)


class SelfCheckFailed(Exception):
    """One check failed; the message says what, without secrets."""


def check_queue(queue: Queue) -> None:
    """The work queue and its dead-letter queue answer this worker's credentials."""
    try:
        queue.check()
    except QueueUnavailable as exc:
        raise SelfCheckFailed(f"queue: {exc}") from exc


def check_storage(storage: Storage) -> None:
    """The bucket answers the listing a job makes (is there a tombstone?) with no."""
    key = tombstone_key(new_image_id())
    try:
        found = storage.exists(key)
    except StorageUnavailable as exc:
        raise SelfCheckFailed(f"storage: {exc}") from exc
    if found:
        raise SelfCheckFailed(f"storage: {key} exists, which no fresh image id can have")


def check_thumbnails() -> None:
    """Every thumbnail of a drawn opaque and a drawn transparent image, at its size."""
    for mode in ("RGB", "RGBA"):
        probe = Image.linear_gradient("L").resize(PROBE_SIZE).convert(mode)
        data = io.BytesIO()
        probe.save(data, PNG.name)
        # The plan an upload of it would queue: every size, in the format for its alpha.
        specs = job_for_upload(new_image_id(), PNG, has_alpha=mode == "RGBA").thumbnails
        try:
            rendered = render_thumbnails(data.getvalue(), PNG, specs)
            for spec in specs:
                expected = (spec.image_format.name, rendered.sizes[spec.name])
                with Image.open(io.BytesIO(rendered.encoded[spec.name])) as made:
                    if (made.format, made.size) != expected:
                        raise SelfCheckFailed(
                            f"thumbnails: {spec.name} is {made.format} {made.size}, "
                            f"not {expected[0]} {expected[1]}"
                        )
        except (ThumbnailError, OSError) as exc:
            raise SelfCheckFailed(f"thumbnails: {mode} probe: {exc}") from exc


def self_check(storage: Storage, queue: Queue) -> list[str]:
    """Run every check; the problems found, one line each (empty: this worker can work)."""
    checks: list[tuple[str, Callable[[], None]]] = [
        ("queue", lambda: check_queue(queue)),
        ("storage", lambda: check_storage(storage)),
        ("thumbnails", check_thumbnails),
    ]
    problems = []
    for name, check in checks:
        try:
            check()
        except SelfCheckFailed as exc:
            log.error("self-check failed", extra={"check": name, "error": str(exc)})
            problems.append(str(exc))
        else:
            log.info("self-check passed", extra={"check": name})
    return problems
