"""WebP: keep image, alpha, animation and ICC chunks; drop EXIF (but orientation) and XMP."""

import struct

from server.privacy.exif import Malformed, orientation_tiff, read_orientation

_WEBP_KEPT = frozenset({b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def strip_webp(data: bytes) -> bytes:
    """The WebP ``data`` with only the kept parts; raises ``Malformed`` if it does not parse."""
    riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
    if riff_end > len(data):
        raise Malformed("WebP RIFF size runs past the end")
    chunks = list(_webp_chunks(data, riff_end))
    if chunks[0][0] != b"VP8X":
        return data[:riff_end]  # the simple format has no room for metadata
    kept: list[bytes] = []
    flags = chunks[0][1][0] & ~(_VP8X_EXIF | _VP8X_XMP)
    for kind, body in chunks[1:]:
        if kind in _WEBP_KEPT:
            kept.append(_riff_chunk(kind, body))
        elif kind == b"EXIF" and not flags & _VP8X_EXIF:
            orientation = read_orientation(body)
            if orientation is not None:
                flags |= _VP8X_EXIF
                kept.append(_riff_chunk(b"EXIF", orientation_tiff(orientation)))
    vp8x = _riff_chunk(b"VP8X", bytes([flags]) + chunks[0][1][1:])
    body = b"WEBP" + vp8x + b"".join(kept)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _webp_chunks(data: bytes, riff_end: int) -> list[tuple[bytes, bytes]]:
    chunks = []
    at = 12
    while at < riff_end:
        kind, size = struct.unpack_from("<4sI", data, at)
        end = at + 8 + size
        if end > riff_end:
            raise Malformed("WebP chunk runs past the end")
        chunks.append((kind, data[at + 8 : end]))
        at = end + (size & 1)
    if not chunks:
        raise Malformed("WebP without chunks")
    return chunks


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)
