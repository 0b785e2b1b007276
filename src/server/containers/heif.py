"""HEIF (HEIC, iPhones' default): an HEVC-coded still image in ISOBMFF boxes.

Sniffed from the ``ftyp`` brands (``sharer.formats``). The walk reads the boxes without
any codec: the primary item must be HEVC (``hvc1``), a grid of HEVC tiles, or an overlay
(``iovl``) of HEVC images (as Nokia's image with an alpha plane is), so no other decoder
libheif holds is reached, and its declared size (``ispe``) is held to the pixel cap
before libheif parses anything. An overlay's canvas must be its declared size, and as
libheif decodes each of its images in full before composing them, their pixels count
towards the cap with the canvas's. Other images in the file (thumbnails, depth and
gain maps, further top-level images) are never decoded; image sequences (``moov``) are
not read at all. The proof is libheif's full decode of the primary image through pi-heif
(decode-only: libde265 is its only codec), held to a quarter of the pixel cap like WebP.
The strip blanks the EXIF and XMP items in place.
"""

import struct

from server.containers.isobmff import HeifStructure, WalkedIsobmff, read_structure
from server.containers.walked import Container, Malformed
from sharer.formats import HEIF

_OVERLAY = b"iovl"
_OVERLAY_CANVAS_AT = 10  # version, flags and the four 16-bit canvas fill values


class WalkedOverlay(WalkedIsobmff):
    """A HEIF whose primary image is an overlay of HEVC images."""

    @property
    def decoded_pixels(self) -> int:
        """The canvas and every image composed on it, each decoded in full."""
        structure = self.structure
        inputs = structure.derived_from[structure.primary_item or 0]
        declared = [structure.item_sizes.get(item, (0, 0)) for item in inputs]
        return super().decoded_pixels + sum(width * height for width, height in declared)


def walk(data: bytes) -> WalkedIsobmff:
    """Read the boxes of ``data``; raises ``Malformed`` unless its primary image is
    HEVC (or a grid or overlay of HEVC images) with a declared size."""
    structure = read_structure(data)
    structure.require_primary_coded_as(b"hvc1", frozenset({b"grid", _OVERLAY}))
    if structure.item_types.get(structure.primary_item or 0) != _OVERLAY:
        return WalkedIsobmff(data, structure)
    _require_overlay_canvas_declared(data, structure)
    return WalkedOverlay(data, structure)


CONTAINER = Container(HEIF, walk)


def _require_overlay_canvas_declared(data: bytes, structure: HeifStructure) -> None:
    """The overlay's canvas (ISO/IEC 23008-12 ImageOverlay) must be its declared size."""
    extents = structure.item_extents.get(structure.primary_item or 0)
    if not extents:
        raise Malformed("the overlay has no description")
    body = data[extents[0].offset : extents[0].offset + extents[0].length]
    try:
        wide = body[1] & 1
        canvas = struct.unpack_from(">II" if wide else ">HH", body, _OVERLAY_CANVAS_AT)
    except (IndexError, struct.error) as exc:
        raise Malformed("the overlay's description is truncated") from exc
    if canvas != structure.primary_size():
        raise Malformed("the overlay's canvas is not its declared size")
