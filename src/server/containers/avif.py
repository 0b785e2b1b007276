"""AVIF: an AV1-coded still image in ISOBMFF boxes, decoded by Pillow's own AVIF plugin.

Sniffed from the ``ftyp`` brands (``sharer.formats``). The walk reads the boxes without
any codec: the primary item must be AV1 (``av01``) or a grid of AV1 tiles, and its
declared size (``ispe``) is held to the pixel cap before libavif parses anything. An
image sequence (the ``avis`` brand, or any ``moov`` box) is refused: libavif would
decode its track, whose size and frame count no item property bounds. The proof is
libavif's full decode of the primary image, held to a quarter of the pixel cap like WebP.
The strip blanks the EXIF and XMP items in place.
"""

from server.containers.isobmff import WalkedIsobmff, read_structure
from server.containers.walked import Container, UnsupportedVariant
from sharer.formats import AVIF


def walk(data: bytes) -> WalkedIsobmff:
    """Read the boxes of ``data``; raises ``UnsupportedVariant`` for an image sequence,
    and ``Malformed`` unless its primary image is AV1 with a declared size."""
    structure = read_structure(data)
    if b"avis" in structure.brands or any(box.kind == b"moov" for box in structure.top_level):
        raise UnsupportedVariant("Animated AVIF (an image sequence) is not accepted.")
    structure.require_primary_coded_as(b"av01")
    return WalkedIsobmff(data, structure)


CONTAINER = Container(AVIF, walk)
