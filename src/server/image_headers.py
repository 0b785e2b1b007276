"""Image dimensions as the file header declares them, read without any Pillow plugin.

The upload's pixel cap is enforced on these numbers before Pillow parses the file, so a
decompression bomb is refused from its first bytes. The GIF block walking is shared with
``server.privacy.gif``; JPEG markers are walked by ``server.jpeg_stream``.
"""

import struct

from server.jpeg_stream import EOI, SOS, jpeg_segments
from sharer.formats import GIF, PNG, WEBP, ImageFormat

# SOF0-SOF15, less DHT (C4), JPG (C8) and DAC (CC), which share the range.
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def declared_size(data: bytes, image_format: ImageFormat) -> tuple[int, int] | None:
    """Width and height as the header declares them, or None when it cannot be read."""
    try:
        if image_format is PNG:
            return _png_size(data)
        if image_format is GIF:
            return _gif_size(data)
        if image_format is WEBP:
            return _webp_size(data)
        return _jpeg_size(data)
    except (struct.error, IndexError, SyntaxError):  # the file ends inside its header
        return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", data, 16)
    return width, height


def gif_colour_table_size(flags: int) -> int:
    """Bytes of the colour table that a GIF screen or image descriptor's ``flags`` announce."""
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def gif_sub_blocks_end(data: bytes, at: int) -> int:
    """Offset just past the GIF sub-block sequence starting at ``at`` (its 0 terminator).

    Raises ``IndexError`` when ``data`` ends first.
    """
    while data[at]:
        at += data[at] + 1
    return at + 1


def _gif_size(data: bytes) -> tuple[int, int]:
    # Pillow grows the canvas to hold a first frame larger than the logical screen.
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    at = 13 + gif_colour_table_size(flags)
    while data[at] == 0x21:  # extension: introducer, label, then sub-blocks
        at = gif_sub_blocks_end(data, at + 2)
    if data[at] != 0x2C:  # no image descriptor: the screen is all there is
        return width, height
    x0, y0, frame_width, frame_height = struct.unpack_from("<HHHH", data, at + 1)
    return max(width, x0 + frame_width), max(height, y0 + frame_height)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    for segment in jpeg_segments(data):
        if segment.marker in _JPEG_FRAME_MARKERS:
            height, width = struct.unpack_from(">HH", data, segment.start + 5)
            return width, height
        if segment.marker in (EOI, SOS):  # no frame header before the pixels
            return None
    return None


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
