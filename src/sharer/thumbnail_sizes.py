"""The thumbnail sizes every image gets: the one place that defines them.

The job plan, the key scheme (and so the worker's IAM grants), the status record, the
202 body and what users see of them (``/openapi.json``, the pages, the ``sharer`` CLI) all
derive from ``THUMBNAIL_SIZES``. The 202 body's keys are the HTTP contract, pinned by the
tests' ``BODY_KEYS``: a new size here is a change of that contract.

Pure data, importing nothing: the CLI, a plain HTTP client, takes the URL names from here.
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

# The names of an image's URLs, in the 202 body and the status document's ``urls``.
IMAGE_URL_NAMES: tuple[str, ...] = ("original", *THUMBNAIL_NAMES)

# The thumbnail a share page shows and its OpenGraph image.
LARGEST_THUMBNAIL_NAME: str = THUMBNAIL_SIZES[0].name
