"""``sharer-admin takedown ID --reason TEXT``: remove an image without its delete token.

Exactly what a delete does (``sharer.deletion.remove_image``: tombstone, every object,
CDN invalidation, ``image.deleted``, status), with the operator's reason kept in the
tombstone and in one log line. Safe to run again: a takedown cut short by an outage is
finished by the next.
"""

import argparse
import logging
import sys
from typing import Any

from sharer.backends import open_edge_cache, open_storage, open_webhook_events
from sharer.deletion import Ending, Tombstone, remove_image, tombstone_of
from sharer.edge_cache import EdgeCacheUnavailable
from sharer.ids import is_image_id
from sharer.key_scheme import status_key
from sharer.logs import configure_logging
from sharer.queues import QueueUnavailable
from sharer.settings import CommonSettings
from sharer.status import decode_status
from sharer.status_documents import cdn_paths, status_document
from sharer.storage import ObjectNotFound, StorageUnavailable

log = logging.getLogger("sharer.admin")

# A reason is for people reading the tombstone and the log: a line or two.
MAX_REASON_CHARACTERS = 1000


def add_commands(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Register ``takedown`` with its arguments."""
    parser = subparsers.add_parser(
        "takedown",
        help="remove an image without its delete token, recording why",
        description=__doc__,
    )
    parser.add_argument("image_id", metavar="ID", help="the image's id (from its URLs)")
    parser.add_argument("--reason", required=True, help="why it is taken down (kept, logged)")
    parser.set_defaults(run=run)


def run(settings: CommonSettings, arguments: argparse.Namespace) -> int:
    """Take the image down; 0 when it is gone, 1 (with a message) otherwise."""
    image_id: str = arguments.image_id
    reason: str = arguments.reason.strip()
    if not is_image_id(image_id):
        return _fail(f"{image_id!r} is not an image id (22 characters of A-Z a-z 0-9 _ -)")
    if not reason or len(reason) > MAX_REASON_CHARACTERS:
        return _fail(f"--reason must say why, in 1 to {MAX_REASON_CHARACTERS} characters")
    configure_logging(settings.log_level)
    storage = open_storage(settings)
    try:
        try:
            status = decode_status(storage.get(status_key(image_id)).body)
        except ObjectNotFound:
            ended = tombstone_of(storage, image_id)
            if ended is None:
                return _fail(f"no image {image_id}")
            return _fail(f"image {image_id} was {ended.ending.value} already")
        remove_image(
            storage,
            open_edge_cache(settings),
            open_webhook_events(settings),
            status,
            tombstone=Tombstone(cdn_forgotten=False, ending=Ending.TAKEN_DOWN, reason=reason),
            cdn_paths=cdn_paths(settings, image_id),
            document=status_document(status, settings, state=Ending.TAKEN_DOWN.public_state),
        )
    except (StorageUnavailable, QueueUnavailable, EdgeCacheUnavailable) as exc:
        log.error("takedown cut short", extra={"image_id": image_id, "error": repr(exc)})
        return _fail(f"a backend failed ({exc}); run the same command again")
    log.info("image taken down", extra={"image_id": image_id, "reason": reason})
    print(f"taken down: {image_id}")
    return 0


def _fail(message: str) -> int:
    print(f"sharer-admin takedown: {message}", file=sys.stderr)
    return 1
