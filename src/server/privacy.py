"""Remove an accepted original's metadata without touching its pixels.

``strip_metadata`` rewrites the container only: compressed image data is copied byte for
byte, never decoded or re-encoded, so the stored original decodes to exactly the pixels
that were uploaded. It runs on images ``inspect_upload`` has accepted.

What goes: everything that can describe the person, place, device or history of a photo
(EXIF with GPS, XMP, IPTC/Photoshop blocks, comments, text chunks, maker notes, embedded
previews, and any bytes after the image's end marker, where phones append videos and
extra pictures). It works by allow-list: what is not known to be needed is dropped.

What stays, because the picture would look different without it:

- the EXIF orientation, as a new minimal EXIF block holding that one tag (the worker and
  browsers rotate by it; everything else in the original EXIF is dropped);
- ICC colour profiles (JPEG APP2 ``ICC_PROFILE``, PNG ``iCCP``, WebP ``ICCP``, GIF
  ``ICCRGBG1012``): they hold colorimetry, not personal data;
- JPEG APP0 JFIF (with any embedded thumbnail removed) and APP14 ``Adobe`` (it says how
  to read the colour channels of CMYK and YCCK files);
- PNG chunks that affect rendering or animation (transparency, gamma, chromaticities,
  colour space, background, physical size, APNG frames);
- GIF graphic-control, plain-text and looping extensions; WebP ``ANIM``/``ANMF``/``ALPH``.
"""

import re
import struct
import zlib
from collections.abc import Callable

from server.inspection import InvalidImage
from sharer.formats import GIF, JPEG, PNG, WEBP, ImageFormat

_DAMAGED = "The image's structure is damaged, so its metadata cannot be removed."


class _Malformed(ValueError):
    """The container does not parse; reported to the client as ``InvalidImage``."""


def strip_metadata(data: bytes, image_format: ImageFormat) -> bytes:
    """``data`` (a ``image_format`` image) without its metadata; pixels untouched.

    Raises ``InvalidImage`` when the container cannot be walked to its end (e.g. a GIF
    whose later frames are cut off: its first frame passed inspection, the rest did not).
    """
    try:
        return _STRIPPERS[image_format.name](data)
    except (_Malformed, IndexError, struct.error) as exc:
        raise InvalidImage("undecodable", _DAMAGED) from exc


# ---------------------------------------------------------------- orientation


def _orientation(exif: bytes) -> int | None:
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


def _orientation_tiff(orientation: int) -> bytes:
    """A minimal big-endian TIFF: one IFD holding one SHORT, the orientation."""
    entry = struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    return b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + entry + b"\x00\x00\x00\x00"


# ---------------------------------------------------------------- JPEG

_EOI, _SOS, _COM = 0xD9, 0xDA, 0xFE
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}
# A marker inside entropy-coded data: 0xFF not followed by stuffing (00), RSTn or fill.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _strip_jpeg(data: bytes) -> bytes:
    out = bytearray(data[:2])
    orientation_done = False
    at = 2
    while at < len(data):
        if data[at] != 0xFF:
            raise _Malformed("JPEG marker expected")
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
            raise _Malformed("JPEG segment runs past the end")
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
    orientation = _orientation(exif)
    if orientation is None:
        return b""
    body = b"Exif\0\0" + _orientation_tiff(orientation)
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


# ---------------------------------------------------------------- PNG

_PNG_KEPT = frozenset(
    {
        b"IHDR", b"PLTE", b"IDAT", b"IEND",  # critical
        b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP", b"mDCv", b"cLLi", b"sBIT",
        b"bKGD", b"hIST", b"pHYs", b"sPLT",  # rendering
        b"acTL", b"fcTL", b"fdAT",  # APNG animation
    }
)  # fmt: skip


def _strip_png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    at = 8
    while True:
        length, kind = struct.unpack_from(">I4s", data, at)
        end = at + 12 + length
        if end > len(data):
            raise _Malformed("PNG chunk runs past the end")
        if kind in _PNG_KEPT:
            out += data[at:end]
        elif kind == b"eXIf":
            orientation = _orientation(data[at + 8 : end - 4])
            if orientation is not None:
                out += _png_chunk(b"eXIf", _orientation_tiff(orientation))
        if kind == b"IEND":
            return bytes(out)
        at = end


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + body))
    return struct.pack(">I", len(body)) + kind + body + crc


# ---------------------------------------------------------------- GIF

_GIF_KEPT_APPLICATIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012")
_GIF_KEPT_EXTENSIONS = (0xF9, 0x01)  # graphic control, plain text


def _strip_gif(data: bytes) -> bytes:
    at = 13 + _gif_colour_table(data[10])
    out = bytearray(data[:at])
    while at < len(data):
        introducer = data[at]
        if introducer == 0x3B:  # trailer: anything after it is dropped
            out += b";"
            break
        if introducer == 0x21:
            end = _gif_sub_blocks(data, at + 2)
            label = data[at + 1]
            application = data[at + 3 : at + 14] if data[at + 2] == 11 else b""
            if label in _GIF_KEPT_EXTENSIONS or (
                label == 0xFF and application in _GIF_KEPT_APPLICATIONS
            ):
                out += data[at:end]
        elif introducer == 0x2C:
            table = _gif_colour_table(data[at + 9])
            end = _gif_sub_blocks(data, at + 10 + table + 1)
            out += data[at:end]
        else:
            raise _Malformed(f"unknown GIF block 0x{introducer:02x}")
        at = end
    return bytes(out)


def _gif_colour_table(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _gif_sub_blocks(data: bytes, at: int) -> int:
    """Offset just past the sub-block sequence starting at ``at`` (its 0 terminator)."""
    while data[at]:  # IndexError past the end: the caller reports a damaged file
        at += data[at] + 1
    return at + 1


# ---------------------------------------------------------------- WebP

_WEBP_KEPT = frozenset({b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _strip_webp(data: bytes) -> bytes:
    riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
    if riff_end > len(data):
        raise _Malformed("WebP RIFF size runs past the end")
    chunks = list(_webp_chunks(data, riff_end))
    if chunks[0][0] != b"VP8X":
        return data[:riff_end]  # the simple format has no room for metadata
    kept: list[bytes] = []
    flags = chunks[0][1][0] & ~(_VP8X_EXIF | _VP8X_XMP)
    for kind, body in chunks[1:]:
        if kind in _WEBP_KEPT:
            kept.append(_riff_chunk(kind, body))
        elif kind == b"EXIF" and not flags & _VP8X_EXIF:
            orientation = _orientation(body)
            if orientation is not None:
                flags |= _VP8X_EXIF
                kept.append(_riff_chunk(b"EXIF", _orientation_tiff(orientation)))
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
            raise _Malformed("WebP chunk runs past the end")
        chunks.append((kind, data[at + 8 : end]))
        at = end + (size & 1)
    if not chunks:
        raise _Malformed("WebP without chunks")
    return chunks


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)


_STRIPPERS: dict[str, Callable[[bytes], bytes]] = {
    JPEG.name: _strip_jpeg,
    PNG.name: _strip_png,
    GIF.name: _strip_gif,
    WEBP.name: _strip_webp,
}
