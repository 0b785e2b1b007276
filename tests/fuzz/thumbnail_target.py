"""The fuzz target for ``make_thumbnails``, shared by the Hypothesis test and atheris.

``check_thumbnails(data, source_format)`` fails (AssertionError, or whatever escapes the
thumbnailer) when any of these breaks, for any bytes:

- the only rejection is ``ThumbnailError``;
- what ``inspect_upload`` accepts is never rejected: the worker never meets garbage;
- each thumbnail decodes, in its spec's format, with no EXIF (no GPS leaves), within its
  box, no larger than the source, with the source's aspect to the nearest pixel.

Inputs declaring more than ``MAX_PIXELS`` are skipped: the server refuses them before
any worker sees them, and decoding them here would only measure the machine's memory.
"""

import io
from typing import Literal

from PIL import Image

from server.inspection import InvalidImage, inspect_upload
from sharer.formats import ImageFormat, thumbnail_format
from sharer.image_decoding import DECODE_ERRORS, open_image
from sharer.messages import PlannedThumbnail
from sharer.thumbnail_sizes import THUMBNAIL_SIZES
from worker.thumbnails import ThumbnailError, make_thumbnails

MAX_PIXELS = 4_000_000


def declared_size(data: bytes, source_format: ImageFormat) -> tuple[int, int] | None:
    """The size Pillow (restricted to ``source_format``) reads from the header, if any."""
    try:
        with open_image(data, source_format) as image:
            return image.size
    except DECODE_ERRORS:
        return None


Outcome = Literal["skipped", "refused", "thumbnailed"]


def check_thumbnails(data: bytes, source_format: ImageFormat) -> Outcome:
    """Run the target: "skipped" when the input declared too large a size, "refused"
    when the thumbnailer gave its documented error, else "thumbnailed"."""
    size = declared_size(data, source_format)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        return "skipped"
    try:
        accepted = inspect_upload(data, max_pixels=MAX_PIXELS)
    except InvalidImage:
        accepted = None
    alpha = accepted.has_alpha if accepted is not None else False
    specs = [
        PlannedThumbnail(v.name, v.width, v.height, f"k/{v.name}", thumbnail_format(alpha))
        for v in THUMBNAIL_SIZES
    ]
    try:
        thumbnails = make_thumbnails(data, source_format, specs)
    except ThumbnailError:
        assert accepted is None, "inspect_upload accepted what the thumbnailer cannot decode"
        return "refused"
    assert size is not None  # it decoded, so Pillow read a header
    assert set(thumbnails) == {s.name for s in specs}
    for spec in specs:
        _check_one(thumbnails[spec.name], spec, size)
    return "thumbnailed"


def _check_one(encoded: bytes, spec: PlannedThumbnail, source: tuple[int, int]) -> None:
    with Image.open(io.BytesIO(encoded)) as thumb:
        assert thumb.format == spec.image_format.name
        assert not thumb.getexif()
        width, height = thumb.size
    assert 1 <= width <= spec.width
    assert 1 <= height <= spec.height
    # Upright thumbnails of a sideways-stored original have its sides swapped.
    for sw, sh in (source, source[::-1]):
        if width <= sw and height <= sh and abs(width * sh - height * sw) <= max(sw, sh):
            return
    raise AssertionError(f"{spec.name} is {width}x{height}, from a {source} original")
