"""JPEG: keep the frame, scans, tables, JFIF, ICC and Adobe segments; drop the rest."""

import struct

from server.jpeg_stream import EOI, SOS, jpeg_segments
from server.privacy.exif import Malformed, orientation_tiff, read_orientation

_COM = 0xFE


def strip_jpeg(data: bytes) -> bytes:
    """The JPEG ``data`` with only the kept parts; raises ``Malformed`` if it does not parse."""
    out = bytearray(data[:2])
    orientation_done = False
    try:
        for segment in jpeg_segments(data):
            whole = data[segment.start : segment.end]
            payload = data[segment.start + 4 : segment.header_end]
            if segment.marker == EOI or segment.marker == SOS:
                out += whole  # anything after the end of the image is dropped
            elif 0xE0 <= segment.marker <= 0xEF or segment.marker == _COM:
                if (
                    segment.marker == 0xE1
                    and payload.startswith(b"Exif\0\0")
                    and not orientation_done
                ):
                    orientation_done = True
                    out += _jpeg_orientation_segment(payload)
                else:
                    out += _kept_jpeg_app(segment.marker, whole, payload)
            else:
                out += whole
    except SyntaxError as exc:
        raise Malformed(str(exc)) from exc
    return bytes(out)


def _jpeg_orientation_segment(exif: bytes) -> bytes:
    orientation = read_orientation(exif)
    if orientation is None:
        return b""
    body = b"Exif\0\0" + orientation_tiff(orientation)
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def _kept_jpeg_app(marker: int, segment: bytes, payload: bytes) -> bytes:
    if marker == 0xE0 and payload.startswith(b"JFIF\0") and len(payload) >= 14:
        # Identifier, version, density units and density; thumbnail size forced to 0x0.
        return b"\xff\xe0\x00\x10" + payload[:12] + b"\x00\x00"
    if marker == 0xE2 and payload.startswith(b"ICC_PROFILE\0"):
        return segment
    if marker == 0xEE and payload.startswith(b"Adobe"):
        return segment
    return b""
