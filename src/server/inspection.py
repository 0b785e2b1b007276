"""Inspect an upload: is it an image we accept, and will the worker be able to decode it?

It runs on the request path before the 202, so it is cheap and bounded in memory:

1. the format is sniffed from the bytes (never from the client's Content-Type or name);
2. the dimensions are read from the header by this module and the pixel cap enforced
   before any Pillow plugin parses the file, so Pillow's own decompression-bomb check
   (at ``Image.MAX_IMAGE_PIXELS``) is never approached;
3. the file is opened with the one allow-listed plugin for that format;
4. the pixels are proven to decode, per format:

   - JPEG: decoded at 1/8 scale (``draft``). libjpeg still entropy-decodes every scan,
     so truncation and broken Huffman data are caught, for 1/64 of the memory.
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

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageFile

from sharer.formats import DECODE_ERRORS, GIF, JPEG, PNG, WEBP, ImageFormat, open_image, sniff

Reason = Literal["empty", "unsupported_format", "too_many_pixels", "undecodable"]

_UNDECODABLE = "The image is damaged or incomplete and cannot be read."
_INFLATE_WINDOW = 1 << 20
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
    declared = _declared_size(data, image_format)
    if declared is None or 0 in declared:
        raise InvalidImage("undecodable", _UNDECODABLE)
    if image_format is WEBP:
        max_pixels //= WEBP_COST_FACTOR
    _check_pixels(declared, max_pixels, image_format)
    with _refused_if_undecodable():
        image = open_image(data, image_format)
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
        _inflate_png(data)
        return
    if image_format is JPEG:
        # 1/8 scale, and only the luma of YCbCr files: colour conversion is skipped too.
        image.draft("L", (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()


# ---------------------------------------------------------------- header dimensions

_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD9)) | {0x01}


def _declared_size(data: bytes, image_format: ImageFormat) -> tuple[int, int] | None:
    """Width and height as the header declares them, or None when it cannot be read."""
    try:
        if image_format is PNG:
            return _png_size(data)
        if image_format is GIF:
            return _gif_size(data)
        if image_format is WEBP:
            return _webp_size(data)
        return _jpeg_size(data)
    except (struct.error, IndexError):
        return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", data, 16)
    return width, height


def _gif_size(data: bytes) -> tuple[int, int]:
    # Pillow grows the canvas to hold a first frame larger than the logical screen.
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    at = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while data[at] == 0x21:  # extension: label, then sub-blocks up to a zero length
        at += 2
        while data[at]:
            at += data[at] + 1
        at += 1
    if data[at] != 0x2C:  # no image descriptor: the screen is all there is
        return width, height
    x0, y0, frame_width, frame_height = struct.unpack_from("<HHHH", data, at + 1)
    return max(width, x0 + frame_width), max(height, y0 + frame_height)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    while True:
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
        elif marker in _JPEG_FRAME_MARKERS:
            height, width = struct.unpack_from(">HH", data, at + 5)
            return width, height
        elif marker in _JPEG_STANDALONE_MARKERS:
            at += 2
        elif marker in (0xD9, 0xDA):  # end of image or scan before any frame header
            return None
        else:
            at += 2 + struct.unpack_from(">H", data, at + 2)[0]


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    return None


# ---------------------------------------------------------------- PNG stream check

_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_PNG_FILTERS = bytes(range(5))


def _inflate_png(data: bytes) -> None:
    """Decode the PNG's pixel stream into nothing; raise ``SyntaxError`` if it is broken.

    Checks what a decoder would trip on: chunk framing and CRCs, the zlib stream, a valid
    filter type at the start of every row (of every Adam7 pass), and enough bytes for
    the whole image. Only the first run of consecutive IDAT chunks carries pixels.
    """
    width, height, depth, colour_type, interlaced = struct.unpack_from(">IIBBxxB", data, 16)
    if colour_type not in _PNG_CHANNELS:
        raise SyntaxError("unknown PNG colour type")
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    rows = list(_png_rows(width, height, _PNG_CHANNELS[colour_type] * depth, passes))
    expected = sum(count * stride for _, count, stride in rows)
    inflater = zlib.decompressobj()
    produced = 0
    seen_idat = False
    for kind, body in _png_chunks(data):
        if kind != b"IDAT":
            if seen_idat:
                break
            continue
        seen_idat = True
        pending: bytes | memoryview = body
        while pending and produced < expected:
            window = inflater.decompress(pending, _INFLATE_WINDOW)
            _check_filters(window, produced, rows)
            produced += len(window)
            pending = inflater.unconsumed_tail
        if produced >= expected:
            return
    raise SyntaxError("PNG pixel data is truncated")


def _png_rows(
    width: int, height: int, bits_per_pixel: int, passes: tuple[tuple[int, int, int, int], ...]
) -> Iterator[tuple[int, int, int]]:
    """(offset of the pass's first row, row count, bytes per row with its filter byte)."""
    offset = 0
    for x0, y0, dx, dy in passes:
        columns = (width - x0 + dx - 1) // dx
        count = (height - y0 + dy - 1) // dy
        if columns <= 0 or count <= 0:
            continue  # an empty Adam7 pass has no rows at all, not even filter bytes
        stride = 1 + (columns * bits_per_pixel + 7) // 8
        yield offset, count, stride
        offset += count * stride


def _check_filters(window: bytes, base: int, rows: list[tuple[int, int, int]]) -> None:
    end = base + len(window)
    for offset, count, stride in rows:
        last = offset + (count - 1) * stride
        if last < base or offset >= end:
            continue
        first = offset + max(0, -(-(base - offset) // stride)) * stride
        filters = window[first - base : min(last, end - 1) - base + 1 : stride]
        if filters.translate(None, _PNG_FILTERS):
            raise SyntaxError("unknown PNG row filter")


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, memoryview]]:
    view = memoryview(data)  # chunk bodies are views: no copy of the pixel data
    at = 8
    while at < len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        end = at + 8 + length
        if end + 4 > len(data):
            raise SyntaxError("PNG chunk is truncated")
        body = view[at + 8 : end]
        if zlib.crc32(body, zlib.crc32(kind)) != struct.unpack_from(">I", data, end)[0]:
            raise SyntaxError("PNG chunk CRC mismatch")
        yield kind, body
        if kind == b"IEND":
            return
        at = end + 4
