"""The thumbnail sizes every image gets: the one place that defines them.

The job plan, the key scheme (and so the worker's IAM grants), the status record and the
CDN tests all derive from ``THUMBNAIL_SIZES``; the 202 body names its own keys because it
is the HTTP contract.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ThumbnailSize:
    """A thumbnail size: its name in the API and the box it must fit (aspect kept)."""

    name: str
    width: int
    height: int


# Largest first: the worker cascades each thumbnail from the previous one.
THUMBNAIL_SIZES: tuple[ThumbnailSize, ...] = (
    ThumbnailSize("large", 600, 600),
    ThumbnailSize("medium", 300, 300),
    ThumbnailSize("small", 100, 100),
)

# Smallest first: the order of the thumbnail URLs in the 202 body and the status document.
THUMBNAIL_NAMES: tuple[str, ...] = tuple(size.name for size in reversed(THUMBNAIL_SIZES))
