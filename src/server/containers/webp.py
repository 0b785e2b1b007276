"""WebP: the RIFF chunk walk, the declared canvas, and the metadata strip.

The proof is Pillow's decode of the first frame through libwebp's animation decoder,
which holds four 4-byte-per-pixel buffers at its peak (a canvas, the previous frame, a
copy, the image; bench/results/inspection.md measures it at the cap); Pillow exposes no
scaled or incremental WebP decoding. So WebP is held to a quarter of the pixel cap: the
same memory as a 4-byte-per-pixel decode at the full cap. A small lossless WebP
declaring a canvas at the full cap would otherwise cost four times that memory, and
seconds of CPU, here and again in the worker.

The strip keeps the image, alpha, animation and ICC chunks and an orientation-only EXIF;
it drops XMP, the rest of EXIF, unknown chunks and anything after the RIFF body.
"""

import struct
from dataclasses import dataclass

from server.containers.exif import orientation_tiff, read_orientation
from server.containers.walked import Container, Malformed, WalkedImage
from sharer.formats import WEBP, Animation

_KEPT = frozenset({b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


@dataclass(frozen=True)
class RiffChunk:
    """One chunk of the RIFF body: its four-character code and its payload."""

    kind: bytes
    body: bytes


class WalkedWebp(WalkedImage):
    """A WebP whose RIFF chunks were walked."""

    cost_factor = 4

    def __init__(self, data: bytes, riff_end: int, chunks: list[RiffChunk]) -> None:
        super().__init__(data, _canvas_size(chunks[0]), _animation(chunks))
        self.riff_end = riff_end
        self.chunks = chunks

    def without_metadata(self) -> bytes:
        """The kept chunks (see the module docstring) in a new RIFF body."""
        first = self.chunks[0]
        if first.kind != b"VP8X":
            return self.data[: self.riff_end]  # the simple format has no room for metadata
        kept: list[bytes] = []
        flags = first.body[0] & ~(_VP8X_EXIF | _VP8X_XMP)
        for chunk in self.chunks[1:]:
            if chunk.kind in _KEPT:
                kept.append(_riff_chunk(chunk.kind, chunk.body))
            elif chunk.kind == b"EXIF" and not flags & _VP8X_EXIF:
                orientation = read_orientation(chunk.body)
                if orientation is not None:
                    flags |= _VP8X_EXIF
                    kept.append(_riff_chunk(b"EXIF", orientation_tiff(orientation)))
        vp8x = _riff_chunk(b"VP8X", bytes([flags]) + first.body[1:])
        body = b"WEBP" + vp8x + b"".join(kept)
        return b"RIFF" + struct.pack("<I", len(body)) + body


def walk(data: bytes) -> WalkedWebp:
    """Walk the RIFF chunks of ``data``; raises ``Malformed`` when the RIFF size or a
    chunk runs past the end, or the first chunk declares no canvas."""
    try:
        riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
        if riff_end > len(data):
            raise Malformed("WebP RIFF size runs past the end")
        chunks = []
        at = 12
        while at < riff_end:
            kind, size = struct.unpack_from("<4sI", data, at)
            end = at + 8 + size
            if end > riff_end:
                raise Malformed("WebP chunk runs past the end")
            chunks.append(RiffChunk(kind, data[at + 8 : end]))
            at = end + (size & 1)
        if not chunks:
            raise Malformed("WebP without chunks")
        return WalkedWebp(data, riff_end, chunks)
    except (struct.error, IndexError) as exc:
        raise Malformed("WebP data ends inside a chunk header") from exc


CONTAINER = Container(WEBP, walk)


def _canvas_size(first: RiffChunk) -> tuple[int, int]:
    body = first.body
    if first.kind == b"VP8X" and len(body) >= 10:
        return int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1
    if first.kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if first.kind == b"VP8 " and body[3:6] == b"\x9d\x01\x2a" and len(body) >= 10:
        width, height = struct.unpack_from("<HH", body, 6)
        return width & 0x3FFF, height & 0x3FFF
    raise Malformed("WebP does not start with a canvas or image header")


def _animation(chunks: list[RiffChunk]) -> Animation | None:
    frames = sum(chunk.kind == b"ANMF" for chunk in chunks)
    control = next((chunk for chunk in chunks if chunk.kind == b"ANIM"), None)
    if frames < 2 or control is None or len(control.body) < 6:
        return None
    return Animation(frames, int.from_bytes(control.body[4:6], "little"))


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)
