"""PNG: the chunk walk, the constant-memory pixel proof, and the metadata strip.

The walk goes over every chunk to ``IEND`` (or to the end of the data, on a chunk
boundary, as Pillow allows), checking each chunk's framing and CRC: a chunk cut short
anywhere, even after the pixels, is refused, because Pillow reads the chunks after the
pixels when it decodes and fails on a truncated one.

The proof inflates the zlib stream through a bounded window and discards it, checking
every row's filter byte and the decoded length: memory stays constant whatever the
dimensions (a 49 MP solid-colour PNG is a small file: bench/results/inspection.md). It
then runs Pillow's own pass over the chunks after the pixels (``load_end``, which the
worker's decode also runs) without decoding anything, so an APNG whose animation chunks
are inconsistent (a frame sequence error, a frame outside the canvas) fails here as it
would in the worker.

The strip keeps the chunks that decode or render the image (and APNG frames) and an
orientation-only ``eXIf``; it drops text, time and every other chunk.
"""

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, PngImagePlugin

from server.containers.exif import orientation_tiff, read_orientation
from server.containers.walked import Container, Malformed, WalkedImage
from sharer.formats import PNG, Animation

# Inflate at most this much at a time; the output is checked and dropped.
_INFLATE_WINDOW = 1 << 20
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes (the PNG specification's): first column, first row, column step, row step.
ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_PNG_FILTERS = bytes(range(5))
_KEPT = frozenset(
    {
        b"IHDR", b"PLTE", b"IDAT", b"IEND",  # critical
        b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP", b"mDCv", b"cLLi", b"sBIT",
        b"bKGD", b"hIST", b"pHYs", b"sPLT",  # rendering
        b"acTL", b"fcTL", b"fdAT",  # APNG animation
    }
)  # fmt: skip
_IEND = struct.pack(">I4sI", 0, b"IEND", zlib.crc32(b"IEND"))


@dataclass(frozen=True)
class PngChunk:
    """One chunk: ``data[start:end]`` is the whole chunk (length, type, body, CRC)."""

    kind: bytes
    start: int
    end: int


class WalkedPng(WalkedImage):
    """A PNG whose chunks were walked and their CRCs checked."""

    def __init__(self, data: bytes, chunks: list[PngChunk]) -> None:
        if not chunks or chunks[0].kind != b"IHDR" or chunks[0].end - chunks[0].start < 25:
            raise Malformed("PNG does not start with its header chunk")
        super().__init__(data, struct.unpack_from(">II", data, 16), _animation(data, chunks))
        self.chunks = chunks

    def prove_decodes(self, image: Image.Image) -> None:
        """The pixel stream inflated into nothing, then Pillow's after-pixels pass."""
        verify_png_stream(self.data, self.chunks)
        if not isinstance(image, PngImagePlugin.PngImageFile) or image.fp is None:
            raise TypeError("a PNG opens with Pillow's PNG plugin")
        first_idat = next(chunk for chunk in self.chunks if chunk.kind == b"IDAT")
        # load_end starts at the CRC of the first IDAT chunk, as after a decode; the
        # private name is Pillow's count of that chunk's unread bytes (none here). Were
        # it renamed, load_end would raise for every PNG, never pass one silently.
        image.fp.seek(first_idat.end - 4)
        image._PngImageFile__idat = 0  # type: ignore[attr-defined]
        image.load_end()

    def without_metadata(self) -> bytes:
        """The kept chunks (see the module docstring), in their order, ending in IEND."""
        data = self.data
        out = bytearray(data[:8])
        for chunk in self.chunks:
            if chunk.kind in _KEPT:
                out += data[chunk.start : chunk.end]
            elif chunk.kind == b"eXIf":
                orientation = read_orientation(data[chunk.start + 8 : chunk.end - 4])
                if orientation is not None:
                    out += _png_chunk(b"eXIf", orientation_tiff(orientation))
        if self.chunks[-1].kind != b"IEND":
            out += _IEND
        return bytes(out)


def walk(data: bytes) -> WalkedPng:
    """Walk every chunk of ``data``; raises ``Malformed`` for a chunk cut short or with a
    wrong CRC, or a file that does not start with its header."""
    return WalkedPng(data, list(_chunks(data)))


CONTAINER = Container(PNG, walk)


def verify_png_stream(data: bytes, chunks: list[PngChunk]) -> None:
    """Decode the PNG's pixel stream into nothing; raise ``SyntaxError`` if it is broken.

    Checks what a decoder would trip on: the zlib stream, a valid filter type at the
    start of every row (of every Adam7 pass), and enough bytes for the whole image. Only
    the first run of consecutive IDAT chunks carries pixels.
    """
    width, height, depth, colour_type, interlaced = struct.unpack_from(">IIBBxxB", data, 16)
    if colour_type not in _PNG_CHANNELS:
        raise SyntaxError("unknown PNG colour type")
    passes = ADAM7 if interlaced else ((0, 0, 1, 1),)
    rows = list(_png_rows(width, height, _PNG_CHANNELS[colour_type] * depth, passes))
    expected = sum(count * stride for _, count, stride in rows)
    inflater = zlib.decompressobj()
    produced = 0
    seen_idat = False
    view = memoryview(data)  # chunk bodies are views: no copy of the pixel data
    for chunk in chunks:
        if chunk.kind != b"IDAT":
            if seen_idat:
                break
            continue
        seen_idat = True
        pending: bytes | memoryview = view[chunk.start + 8 : chunk.end - 4]
        while pending and produced < expected:
            window = inflater.decompress(pending, _INFLATE_WINDOW)
            _check_filters(window, produced, rows)
            produced += len(window)
            pending = inflater.unconsumed_tail
        if produced >= expected:
            return
    raise SyntaxError("PNG pixel data is truncated")


def _chunks(data: bytes) -> Iterator[PngChunk]:
    view = memoryview(data)
    at = 8
    while at < len(data):
        if at + 8 > len(data):
            raise Malformed("PNG chunk header is truncated")
        length, kind = struct.unpack_from(">I4s", data, at)
        end = at + 12 + length
        if end > len(data):
            raise Malformed("PNG chunk is truncated")
        crc = zlib.crc32(view[at + 8 : end - 4], zlib.crc32(kind))
        if crc != struct.unpack_from(">I", data, end - 4)[0]:
            raise Malformed("PNG chunk CRC mismatch")
        yield PngChunk(kind, at, end)
        if kind == b"IEND":
            return
        at = end


def _animation(data: bytes, chunks: list[PngChunk]) -> Animation | None:
    """An APNG's frames and plays, as its animation control chunk states them (Pillow
    decodes that many frames, and no more)."""
    control = next((chunk for chunk in chunks if chunk.kind == b"acTL"), None)
    if control is None or control.end - control.start < 20:
        return None
    frames, plays = struct.unpack_from(">II", data, control.start + 8)
    return Animation(frames, min(plays, 65_535)) if frames > 1 else None


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


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + body))
    return struct.pack(">I", len(body)) + kind + body + crc
