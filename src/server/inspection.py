"""Inspect an upload: is it an image we accept, and will the worker be able to decode it?

It runs on the request path before the 202, so it is cheap and bounded in memory:

1. the format is sniffed from the bytes (never from the client's Content-Type or name);
2. the dimensions are read from the header by this module and the pixel cap enforced
   before any Pillow plugin parses the file, so Pillow's own decompression-bomb check
   (at ``Image.MAX_IMAGE_PIXELS``) is never approached;
3. the file is opened with the one allow-listed plugin for that format;
4. the pixels are proven to decode, per format:

   - JPEG: every marker is walked to the end-of-image marker, then libjpeg decodes the
     file with its entropy-coded data removed, at 1/8 scale. libjpeg only *warns* about
     damaged pixel data, so this accepts nothing a full decode refuses, for a seventh of
     the CPU (see ``server.jpeg_stream``); it refuses a little more: a file cut short or
     with a stray marker inside a scan, which a full decode would fill with grey.
   - PNG: the zlib stream is inflated through a bounded window and discarded, checking
     chunk CRCs, every row's filter byte and the decoded length. Memory stays constant
     whatever the dimensions (a 49 MP solid-colour PNG is ~150 KB on the wire).
   - GIF: Pillow decodes the first frame, one byte per pixel (at most ``max_pixels``).
   - WebP: Pillow decodes the first frame through libwebp's animation decoder, which
     peaks near 16 bytes per pixel (a canvas, the previous frame, a copy, the image);
     Pillow exposes no scaled or incremental WebP decoding. So WebP is held to a
     quarter of the pixel cap (12.5 MP at the default 50 MP): the same memory as a
     4-byte-per-pixel decode at the full cap. A 2 KB lossless WebP of 7000x7000 would
     otherwise cost ~750 MB and seconds of CPU here, and again in the worker.

Animated GIF and WebP: only the first frame is checked (and thumbnailed).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageFile

from server.image_headers import declared_size
from server.jpeg_stream import jpeg_skeleton
from server.png_stream import verify_png_stream
from sharer.formats import DECODE_ERRORS, JPEG, PNG, WEBP, ImageFormat, open_image, sniff

Reason = Literal["empty", "unsupported_format", "too_many_pixels", "undecodable"]

_UNDECODABLE = "The image is damaged or incomplete and cannot be read."
# Pillow's WebP decoding needs about four times the memory per pixel of the others.
WEBP_COST_FACTOR = 4


class InvalidImage(ValueError):
    """An upload we refuse; ``str(exc)`` is a message for the user, ``reason`` a code."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


@dataclass(frozen=True)
class UploadedImage:
    """What the server needs to know about an accepted upload (dimensions as stored,
    before any EXIF orientation)."""

    image_format: ImageFormat
    width: int
    height: int
    has_alpha: bool


def inspect_upload(data: bytes, *, max_pixels: int) -> UploadedImage:
    """Accept ``data`` as an image the worker can thumbnail, or raise ``InvalidImage``.

    ``max_pixels`` must not exceed Pillow's ``Image.MAX_IMAGE_PIXELS``: the cap is then
    always reached before Pillow's own bomb check. WebP gets ``max_pixels //
    WEBP_COST_FACTOR`` (see the module docstring).
    """
    if max_pixels > (Image.MAX_IMAGE_PIXELS or max_pixels):
        raise ValueError(f"max_pixels {max_pixels} is above Pillow's bomb limit")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    if not data:
        raise InvalidImage("empty", "The upload is empty.")
    image_format = sniff(data[:16])
    if image_format is None:
        raise InvalidImage("unsupported_format", "This is not a JPEG, PNG, GIF or WebP image.")
    declared = declared_size(data, image_format)
    if declared is None or 0 in declared:
        raise InvalidImage("undecodable", _UNDECODABLE)
    if image_format is WEBP:
        max_pixels //= WEBP_COST_FACTOR
    _check_pixels(declared, max_pixels, image_format)
    with _refused_if_undecodable():
        # A JPEG is opened as its skeleton: the same headers for Pillow, and what
        # _prove_decodes has libjpeg decode.
        image = open_image(jpeg_skeleton(data) if image_format is JPEG else data, image_format)
    _check_pixels(image.size, max_pixels, image_format)  # what Pillow saw must agree
    accepted = UploadedImage(image_format, image.width, image.height, _has_alpha(image))
    with _refused_if_undecodable():
        _prove_decodes(image, data, image_format)
    return accepted


@contextmanager
def _refused_if_undecodable() -> Iterator[None]:
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Unreachable while max_pixels <= MAX_IMAGE_PIXELS; kept so it can never become
        # a 500 if Pillow's limits change.
        raise InvalidImage("too_many_pixels", "The image has too many pixels.") from exc
    except DECODE_ERRORS as exc:
        raise InvalidImage("undecodable", _UNDECODABLE) from exc


def _check_pixels(size: tuple[int, int], max_pixels: int, image_format: ImageFormat) -> None:
    width, height = size
    if width * height > max_pixels:
        raise InvalidImage(
            "too_many_pixels",
            f"The image is {width}x{height} pixels; at most {max_pixels:,} pixels "
            f"are accepted for {image_format.name}.",
        )


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA"):
        return True
    transparency = image.info.get("transparency")
    if isinstance(transparency, bytes):  # palette alpha: transparent only below 255
        return min(transparency, default=255) < 255
    return transparency is not None


def _prove_decodes(image: Image.Image, data: bytes, image_format: ImageFormat) -> None:
    if image_format is PNG:
        verify_png_stream(data)
        return
    if image_format is JPEG:
        # 1/8 scale, and only the luma of YCbCr files: colour conversion is skipped too.
        image.draft("L", (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()
