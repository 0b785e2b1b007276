"""PNG: keep the chunks that decode or render the image; drop text and the rest."""

import struct
import zlib

from server.privacy.exif import Malformed, orientation_tiff, read_orientation

_PNG_KEPT = frozenset(
    {
        b"IHDR", b"PLTE", b"IDAT", b"IEND",  # critical
        b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP", b"mDCv", b"cLLi", b"sBIT",
        b"bKGD", b"hIST", b"pHYs", b"sPLT",  # rendering
        b"acTL", b"fcTL", b"fdAT",  # APNG animation
    }
)  # fmt: skip


def strip_png(data: bytes) -> bytes:
    """The PNG ``data`` with only the kept parts; raises ``Malformed`` if it does not parse."""
    out = bytearray(data[:8])
    at = 8
    while True:
        length, kind = struct.unpack_from(">I4s", data, at)
        end = at + 12 + length
        if end > len(data):
            raise Malformed("PNG chunk runs past the end")
        if kind in _PNG_KEPT:
            out += data[at:end]
        elif kind == b"eXIf":
            orientation = read_orientation(data[at + 8 : end - 4])
            if orientation is not None:
                out += _png_chunk(b"eXIf", orientation_tiff(orientation))
        if kind == b"IEND":
            return bytes(out)
        at = end


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + body))
    return struct.pack(">I", len(body)) + kind + body + crc
