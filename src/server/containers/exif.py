"""The EXIF orientation, read from and written to a minimal TIFF: shared by the strips
of the formats whose orientation lives in EXIF (JPEG, PNG, WebP)."""

import struct


def read_orientation(exif: bytes) -> int | None:
    """The orientation tag (2..8) of an EXIF block (TIFF, optionally ``Exif\\0\\0``-led).

    None when absent, 1 or unreadable: unreadable EXIF is ignored, as browsers ignore it.
    """
    tiff = exif[6:] if exif.startswith(b"Exif\0\0") else exif
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    magic, ifd = struct.unpack_from(order + "HI", tiff, 2)
    if magic != 42 or ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    for at in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        tag, kind, number, value = struct.unpack_from(order + "HHIH", tiff, at)
        if tag == 0x0112:
            return value if kind == 3 and number == 1 and 2 <= value <= 8 else None
    return None


def orientation_tiff(orientation: int) -> bytes:
    """A minimal big-endian TIFF: one IFD holding one SHORT, the orientation."""
    entry = struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    return b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + entry + b"\x00\x00\x00\x00"
