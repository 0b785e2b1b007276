"""Walk a JPEG's markers as libjpeg reads them, and prove the file decodes without its pixels.

Why the proof need not decode the pixel data: libjpeg treats damage inside a scan's
entropy-coded data (a bad Huffman code, a scan cut short by a stray marker) as a
*warning* and fills what is missing with grey, and Pillow ignores the warning. A full
decode therefore refuses a JPEG for two kinds of fault only: marker segments libjpeg
rejects (frame, table, restart or scan headers, an impossible progression, an unknown
marker), and a file that ends inside a segment or a scan. The walk here finds the second
kind; libjpeg, given the *skeleton* (every marker segment in order, entropy-coded data
removed), finds the first kind with its own rules. For a 2 MP JPEG that is ~1 ms instead
of ~6 ms for a full decode at 1/8 scale, ~4 ms instead of ~21 ms if progressive
(bench/results/inspection.md).
"""

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

EOI, SOS = 0xD9, 0xDA
# Markers followed by a two-byte length (libjpeg's jdmarker.c reads these and no others;
# any other marker is two bytes, and libjpeg refuses those it does not know).
_WITH_LENGTH = frozenset(range(0xC0, 0xD0)) | {SOS, 0xDB, 0xDD, 0xFE} | frozenset(range(0xE0, 0xF0))
# Where a scan's entropy-coded data ends, by libjpeg's rule: 0xFF followed by a byte that
# is not stuffing (00), a restart marker (D0-D7) or another fill byte.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# Every marker a valid file can hold is 0xC0 or above (0x01, TEM, never follows a scan).
_LOWEST_VALID_MARKER = 0xC0
_TRUNCATED = "JPEG data ends before its end-of-image marker"


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
    parts = [data[:2]]
    parts += [data[segment.start : segment.header_end] for segment in jpeg_segments(data)]
    return b"".join(parts)


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
