"""JPEG: keep the frame, scans, tables, JFIF, ICC and Adobe segments; drop the rest."""

import re
import struct

from server.privacy.exif import Malformed, orientation_tiff, read_orientation

_EOI, _SOS, _COM = 0xD9, 0xDA, 0xFE
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}
# A marker inside entropy-coded data: 0xFF not followed by stuffing (00), RSTn or fill.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def strip_jpeg(data: bytes) -> bytes:
    """The JPEG ``data`` with only the kept parts; raises ``Malformed`` if it does not parse."""
    out = bytearray(data[:2])
    orientation_done = False
    at = 2
    while at < len(data):
        if data[at] != 0xFF:
            raise Malformed("JPEG marker expected")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == _EOI:
            out += b"\xff\xd9"
            break  # anything after the end of the image is dropped
        if marker in _STANDALONE:
            out += data[at : at + 2]
            at += 2
            continue
        end = at + 2 + struct.unpack_from(">H", data, at + 2)[0]
        if end > len(data):
            raise Malformed("JPEG segment runs past the end")
        payload = data[at + 4 : end]
        if marker == _SOS:
            found = _NEXT_MARKER.search(data, end)
            scan_end = found.start() if found else len(data)
            out += data[at:scan_end]
            at = scan_end
            continue
        if 0xE0 <= marker <= 0xEF or marker == _COM:
            if marker == 0xE1 and payload.startswith(b"Exif\0\0") and not orientation_done:
                orientation_done = True
                out += _jpeg_orientation_segment(payload)
            else:
                out += _kept_jpeg_app(marker, data[at:end], payload)
        else:
            out += data[at:end]
        at = end
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
