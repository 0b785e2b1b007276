"""Prove a PNG's pixel stream decodes, in constant memory whatever its dimensions."""

import struct
import zlib
from collections.abc import Iterator

# Inflate at most this much at a time; the output is checked and dropped.
_INFLATE_WINDOW = 1 << 20
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


def verify_png_stream(data: bytes) -> None:
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
