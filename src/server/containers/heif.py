"""HEIF (HEIC, iPhones' default): an HEVC-coded still image in ISOBMFF boxes.

Sniffed from the ``ftyp`` brands (``sharer.formats``). The walk reads the boxes without
any codec: the primary item must be HEVC (``hvc1``) or a grid of HEVC tiles, so no other
decoder libheif holds is reached, and its declared size (``ispe``) is held to the pixel
cap before libheif parses anything. Other images in the file (thumbnails, depth and
gain maps, further top-level images) are never decoded; image sequences (``moov``) are
not read at all. The proof is libheif's full decode of the primary image through pi-heif
(decode-only: libde265 is its only codec), held to a quarter of the pixel cap like WebP.
The strip blanks the EXIF and XMP items in place.
"""

from server.containers.isobmff import WalkedIsobmff, read_structure
from server.containers.walked import Container
from sharer.formats import HEIF


def walk(data: bytes) -> WalkedIsobmff:
    """Read the boxes of ``data``; raises ``Malformed`` unless its primary image is
    HEVC with a declared size."""
    structure = read_structure(data)
    structure.require_primary_coded_as(b"hvc1")
    return WalkedIsobmff(data, structure)


CONTAINER = Container(HEIF, walk)
