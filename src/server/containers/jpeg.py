"""JPEG: the marker walk as libjpeg reads it, the skeleton proof, and the metadata strip.

Why the proof need not decode the pixel data: libjpeg treats damage inside a scan's
entropy-coded data (a bad Huffman code, a scan cut short by a stray marker) as a
*warning* and fills what is missing with grey, and Pillow ignores the warning. A full
decode therefore refuses a JPEG for two kinds of fault only: marker segments libjpeg
rejects (frame, table, restart or scan headers, an impossible progression, an unknown
marker), and a file that ends inside a segment or a scan. The walk here finds the second
kind; libjpeg, given the *skeleton* (every marker segment in order, entropy-coded data
removed, the frame cut to a few rows), finds the first kind with its own rules, at 1/8
scale and luma only, for a fraction of a full decode's CPU (bench/results/inspection.md).
It refuses a little more than a full decode: a file cut short or with a stray marker
inside a scan, which a full decode would fill with grey.

The strip keeps the frame, scans, tables, JFIF (without its thumbnail), ICC and Adobe
segments and an orientation-only EXIF; it drops every other APPn, comments and anything
after the end-of-image marker.
"""

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

from server.containers.exif import orientation_tiff, read_orientation
from server.containers.walked import Container, Malformed, WalkedImage
from sharer.formats import JPEG
from sharer.image_decoding import open_image

EOI, SOS = 0xD9, 0xDA
_COM = 0xFE
# Markers followed by a two-byte length (libjpeg's jdmarker.c reads these and no others;
# any other marker is two bytes, and libjpeg refuses those it does not know).
_WITH_LENGTH = frozenset(range(0xC0, 0xD0)) | {SOS, 0xDB, 0xDD, 0xFE} | frozenset(range(0xE0, 0xF0))
# SOF0-SOF15, less DHT (C4), JPG (C8) and DAC (CC), which share the range.
_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Where a scan's entropy-coded data ends, by libjpeg's rule: 0xFF followed by a byte that
# is not stuffing (00), a restart marker (D0-D7) or another fill byte.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# Every marker a valid file can hold is 0xC0 or above (0x01, TEM, never follows a scan).
_LOWEST_VALID_MARKER = 0xC0
_TRUNCATED = "JPEG data ends before its end-of-image marker"
# libjpeg's JPEG_MAX_DIMENSION: a frame larger on either side is refused by any decode.
MAX_DIMENSION = 65500
# The rows the proof decodes. Nothing libjpeg checks in the marker segments depends on
# the frame's height beyond it being 1 to MAX_DIMENSION (the walk checks that), while the
# work of decoding even a skeleton grows with the rows (every MCU is filled in).
_PROOF_HEIGHT = 8


@dataclass(frozen=True)
class JpegSegment:
    """One marker: ``data[start:header_end]`` is the marker and its segment, and for a
    scan (SOS) ``data[header_end:end]`` is its entropy-coded data; otherwise the two
    ends are equal."""

    marker: int
    start: int
    header_end: int
    end: int


def jpeg_segments(data: bytes) -> Iterator[JpegSegment]:
    """The markers after SOI up to and including EOI; raises ``SyntaxError`` if the data
    ends first. Bytes between segments that are not a marker are skipped, as libjpeg does."""
    at = 2
    while True:
        at = _next_marker(data, at)
        marker = data[at + 1]
        if marker not in _WITH_LENGTH:
            yield JpegSegment(marker, at, at + 2, at + 2)
            if marker == EOI:
                return
            at += 2
            continue
        if at + 4 > len(data):
            raise SyntaxError(_TRUNCATED)
        header_end = at + 2 + struct.unpack_from(">H", data, at + 2)[0]
        if header_end > len(data):
            raise SyntaxError(_TRUNCATED)
        end = header_end
        if marker == SOS:
            found = _SCAN_END.search(data, header_end)
            if found is None:
                raise SyntaxError(_TRUNCATED)
            if data[found.start() + 1] < _LOWEST_VALID_MARKER:
                # Not a marker but damage. libjpeg's response depends on the pixel data
                # around it (with restart markers it scans on and may fail later), which
                # the skeleton no longer has, so the file is refused here.
                raise SyntaxError("JPEG scan data is damaged")
            end = found.start()
        yield JpegSegment(marker, at, header_end, end)
        at = end


def jpeg_skeleton(data: bytes) -> bytes:
    """``data`` with every scan's entropy-coded data removed: what libjpeg must accept
    for the whole file to decode. Raises ``SyntaxError`` for a truncated file or a
    damaged scan."""
    return _skeleton(data, list(jpeg_segments(data)))


class WalkedJpeg(WalkedImage):
    """A JPEG whose markers were walked to its end-of-image marker."""

    def __init__(self, data: bytes, segments: list[JpegSegment]) -> None:
        frame = _frame(segments)
        height, width = struct.unpack_from(">HH", data, frame.start + 5)
        super().__init__(data, (width, height))
        if max(width, height) > MAX_DIMENSION:
            # libjpeg refuses it; the proof's shortened frame would no longer say so.
            raise Malformed(f"JPEG frames are at most {MAX_DIMENSION} pixels on a side")
        self.segments = segments
        self._frame_start = frame.start

    def pillow_input(self) -> bytes:
        """The skeleton: the same headers for Pillow, and what libjpeg must accept."""
        return _skeleton(self.data, self.segments)

    def prove_decodes(self, image: Image.Image) -> None:
        """libjpeg decodes the skeleton, its frame cut to ``_PROOF_HEIGHT`` rows, at 1/8
        scale and luma only (no colour conversion); ``image`` is the whole skeleton,
        whose headers Pillow has already read."""
        height = min(self.size[1], _PROOF_HEIGHT)
        short = open_image(_skeleton(self.data, self.segments, (self._frame_start, height)), JPEG)
        short.draft("L", (max(1, short.width // 8), max(1, short.height // 8)))
        short.load()

    def without_metadata(self) -> bytes:
        """The kept segments (see the module docstring), in their order."""
        data = self.data
        # Views, joined once: the scans are most of the file, and are copied only there.
        view = memoryview(data)
        out: list[bytes | memoryview] = [view[:2]]
        orientation_done = False
        for segment in self.segments:
            whole = view[segment.start : segment.end]
            if segment.marker in (EOI, SOS):
                out.append(whole)  # anything after the end of the image is dropped
            elif 0xE0 <= segment.marker <= 0xEF or segment.marker == _COM:
                payload = data[segment.start + 4 : segment.header_end]
                if (
                    segment.marker == 0xE1
                    and payload.startswith(b"Exif\0\0")
                    and not orientation_done
                ):
                    orientation_done = True
                    out.append(_orientation_segment(payload))
                else:
                    out.append(_kept_app(segment.marker, whole, payload))
            else:
                out.append(whole)
        return b"".join(out)


def walk(data: bytes) -> WalkedJpeg:
    """Walk every marker of ``data``; raises ``Malformed`` for a truncated file, a
    damaged scan or no frame header before the first scan."""
    try:
        return WalkedJpeg(data, list(jpeg_segments(data)))
    except (SyntaxError, struct.error, IndexError) as exc:
        raise Malformed(str(exc)) from exc


CONTAINER = Container(JPEG, walk)


def _skeleton(
    data: bytes, segments: list[JpegSegment], frame_height: tuple[int, int] | None = None
) -> bytes:
    """The marker segments without the scans' data; with ``frame_height`` (a frame
    header's offset, a height), that frame header declares that height instead."""
    pieces = [data[:2]]
    for segment in segments:
        header = data[segment.start : segment.header_end]
        if frame_height is not None and segment.start == frame_height[0]:
            header = header[:5] + struct.pack(">H", frame_height[1]) + header[7:]
        pieces.append(header)
    return b"".join(pieces)


def _frame(segments: list[JpegSegment]) -> JpegSegment:
    for segment in segments:
        if segment.marker in _FRAME_MARKERS:
            return segment
        if segment.marker in (EOI, SOS):
            break
    raise Malformed("JPEG has no frame header before its pixels")


def _next_marker(data: bytes, at: int) -> int:
    """The offset of the next 0xFF that starts a marker (skipping fill bytes and stuffed
    zeros, as libjpeg's ``next_marker`` does)."""
    while True:
        at = data.find(b"\xff", at)
        if at < 0 or at + 1 >= len(data):
            raise SyntaxError(_TRUNCATED)
        if data[at + 1] not in (0x00, 0xFF):
            return at
        at += 1 if data[at + 1] == 0xFF else 2


def _orientation_segment(exif: bytes) -> bytes:
    orientation = read_orientation(exif)
    if orientation is None:
        return b""
    body = b"Exif\0\0" + orientation_tiff(orientation)
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def _kept_app(marker: int, segment: memoryview, payload: bytes) -> bytes | memoryview:
    if marker == 0xE0 and payload.startswith(b"JFIF\0") and len(payload) >= 14:
        # Identifier, version, density units and density; thumbnail size forced to 0x0.
        return b"\xff\xe0\x00\x10" + payload[:12] + b"\x00\x00"
    if marker == 0xE2 and payload.startswith(b"ICC_PROFILE\0"):
        return segment
    if marker == 0xEE and payload.startswith(b"Adobe"):
        return segment
    return b""
