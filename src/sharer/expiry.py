"""Uploads that expire: the ``expires_in`` form field, the index the reaper lists, and the
object tags the bucket's lifecycle rules act on as a backstop.

Each expiring image has one index object ``expiring/<expires_at>-<id>.json`` (the time in
ten digits, so key order is expiry order): ``reconciler.expiry`` lists the prefix from its
start and reaps what is due, a bounded batch a pass. Its objects also carry the tag
``EXPIRY_TAG``: the smallest of ``EXPIRY_TAG_DAYS`` that covers what is left of its
life when it is written; ``cdk.image_bucket`` has one lifecycle rule per value, each
removing a tagged object a day after that many days. An image without expiry has no tag,
so no rule ever touches it.
"""

import math
from datetime import UTC, datetime

from sharer.ids import is_image_id
from sharer.key_scheme import EXPIRING_PREFIX, EXPIRY_TAG, EXPIRY_TAG_DAYS

_DAY_SECONDS = 24 * 60 * 60
# Unix seconds in ten digits last until 2286; an ``expires_in`` is held to as many.
EXPIRY_TIME_DIGITS = 10


class InvalidExpiry(ValueError):
    """An ``expires_in`` value we refuse; the message says what is allowed."""


def parse_expires_in(raw: str, *, minimum: int, maximum: int) -> int:
    """Whole seconds from ``minimum`` to ``maximum``, written in ASCII digits only."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > EXPIRY_TIME_DIGITS:
        raise InvalidExpiry(
            f"expires_in must be a whole number of seconds, from {minimum} to {maximum}"
        )
    seconds = int(text)
    if not minimum <= seconds <= maximum:
        raise InvalidExpiry(f"expires_in must be from {minimum} to {maximum} seconds")
    return seconds


def expiring_key(image_id: str, expires_at: int) -> str:
    """The index object of an image expiring at ``expires_at`` (Unix seconds)."""
    return f"{EXPIRING_PREFIX}{expires_at:0{EXPIRY_TIME_DIGITS}d}-{image_id}.json"


def parse_expiring_key(key: str) -> tuple[int, str] | None:
    """``(expires_at, image_id)`` of an index key, or None if it is not one."""
    name = key.removeprefix(EXPIRING_PREFIX).removesuffix(".json")
    stamp, _, image_id = name.partition("-")
    if len(stamp) != EXPIRY_TIME_DIGITS or not stamp.isdigit() or not is_image_id(image_id):
        return None
    if expiring_key(image_id, int(stamp)) != key:
        return None
    return int(stamp), image_id


def expiry_tags(expires_at: int | None, now: float) -> dict[str, str] | None:
    """The lifecycle tag for an object of an image expiring at ``expires_at``, written
    ``now``; None for an image that never expires."""
    if expires_at is None:
        return None
    days = max(1, math.ceil((expires_at - now) / _DAY_SECONDS))
    covering = next((d for d in EXPIRY_TAG_DAYS if d >= days), EXPIRY_TAG_DAYS[-1])
    return {EXPIRY_TAG: str(covering)}


def rfc3339(timestamp: int) -> str:
    """``timestamp`` (Unix seconds) as RFC 3339 in UTC, e.g. ``2026-12-07T01:00:00Z``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
