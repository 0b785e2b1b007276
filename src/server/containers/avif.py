"""AVIF: an AV1-coded still image in ISOBMFF boxes, decoded by Pillow's own AVIF plugin.

Sniffed from the ``ftyp`` brands (``sharer.formats``). The walk reads the boxes without
any codec: the primary item must be AV1 (``av01``) or a grid of AV1 tiles, and its
declared size (``ispe``) is held to the pixel cap before libavif parses anything. That
size binds only if the coded frames keep to it: libavif decodes a frame as large as the
AV1 sequence header allows and crops it to ``ispe`` afterwards, so a tiny file declaring
64x64 could make it decode a frame of tens of megapixels (bench/results/inspection.md
refuses one). So the sequence header of every AV1 item is read
here (its maximum frame size), and each must fit its item's ``ispe``, and no item may
declare more than the primary image.

An image sequence (a ``moov`` box: libavif then decodes its track, not the items) is
walked down to its sample tables (``server.containers.avif_tracks``): every track is AV1,
its declared size is its sample entry's (and the track header's, if larger), its frame
count and plays come from the tables and the edit list, and the first sample must code
frames within the declared size; every other sample is checked the same way by the proof
before libavif decodes anything. The proof is libavif's full decode of the primary image
(or the first frame), held to a quarter of the pixel cap like WebP. The strip blanks the
EXIF and XMP items in place.
"""

from server.containers.av1 import av1_max_frame_size
from server.containers.avif_tracks import WalkedAvifSequence, read_tracks
from server.containers.isobmff import HeifStructure, WalkedIsobmff, read_structure
from server.containers.walked import Container, Malformed
from sharer.formats import AVIF


def walk(data: bytes) -> WalkedIsobmff:
    """Read the boxes of ``data``; raises ``Malformed`` unless its primary image (if it
    has items) is AV1 with a declared size, and its tracks (if any) are AV1 within
    theirs."""
    structure = read_structure(data)
    moov = [box for box in structure.top_level if box.kind == b"moov"]
    if structure.primary_item is not None or not moov:
        structure.require_primary_coded_as(b"av01")
        _require_frames_within_declared_sizes(data, structure)
    if not moov:
        return WalkedIsobmff(data, structure)
    if len(moov) > 1:
        raise Malformed("more than one moov box")
    return WalkedAvifSequence(data, structure, read_tracks(data, moov[0]))


CONTAINER = Container(AVIF, walk)


def _require_frames_within_declared_sizes(data: bytes, structure: HeifStructure) -> None:
    primary_width, primary_height = structure.primary_size()
    for item_id, kind in structure.item_types.items():
        if kind != b"av01":
            continue
        declared = structure.item_sizes.get(item_id)
        extents = structure.item_extents.get(item_id)
        if declared is None or not extents:
            raise Malformed("an AV1 item has no declared size or no data")
        if declared[0] * declared[1] > primary_width * primary_height:
            raise Malformed("an AV1 item declares more pixels than the primary image")
        first = extents[0]
        width, height = av1_max_frame_size(data[first.offset : first.offset + first.length])
        if width > declared[0] or height > declared[1]:
            raise Malformed("an AV1 item codes frames larger than it declares")
