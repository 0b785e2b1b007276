"""The box structure HEIF and AVIF share (ISO/IEC 14496-12 and 23008-12): read without
any codec, so the door knows the primary image's type and declared size, and where its
metadata items sit, before libheif or libavif sees the bytes.
"""

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from server.containers.walked import Malformed, WalkedImage

# Item types whose payload describes the photo rather than showing it.
METADATA_ITEM_TYPES = frozenset({b"Exif", b"mime", b"uri "})
_BOX_HEADER = 8


@dataclass(frozen=True)
class Box:
    """One box: its type, and ``data[body:end]`` its payload (after size and type)."""

    kind: bytes
    start: int
    body: int
    end: int


@dataclass(frozen=True)
class Extent:
    """A run of an item's payload: ``length`` bytes at ``offset`` in the file."""

    offset: int
    length: int


@dataclass
class HeifStructure:
    """What the door needs from an ISOBMFF image file's boxes."""

    brands: frozenset[bytes]
    top_level: list[Box]
    primary_item: int | None = None
    item_types: dict[int, bytes] = field(default_factory=dict)
    item_sizes: dict[int, tuple[int, int]] = field(default_factory=dict)
    item_extents: dict[int, list[Extent]] = field(default_factory=dict)
    derived_from: dict[int, list[int]] = field(default_factory=dict)

    def primary_size(self) -> tuple[int, int]:
        """The primary item's declared size (its ``ispe``); ``Malformed`` without one."""
        if self.primary_item not in self.item_sizes:
            raise Malformed("the primary image declares no size")
        return self.item_sizes[self.primary_item]

    def require_primary_coded_as(
        self, codec: bytes, derivations: frozenset[bytes] = frozenset({b"grid"})
    ) -> None:
        """Raise ``Malformed`` unless the primary item (or every input of its grid, or
        other ``derivations``) is ``codec``: no other decoder libheif or libavif holds is
        ever reached."""
        primary = self.primary_item
        kind = self.item_types.get(primary) if primary is not None else None
        if kind in derivations:
            tiles = self.derived_from.get(primary or 0, [])
            if not tiles or any(self.item_types.get(tile) != codec for tile in tiles):
                raise Malformed("the grid's tiles are not all of the expected codec")
        elif kind != codec:
            raise Malformed(f"the primary image is not {codec.decode('latin-1')}")


def read_structure(data: bytes) -> HeifStructure:
    """Parse the top-level boxes, ``ftyp`` and ``meta``; ``Malformed`` if they do not."""
    try:
        top = list(boxes(data, 0, len(data)))
        if not top or top[0].kind != b"ftyp":
            raise Malformed("the file does not start with its ftyp box")
        ftyp = top[0]
        brands = {data[ftyp.body : ftyp.body + 4]}
        brands |= {data[at : at + 4] for at in range(ftyp.body + 8, ftyp.end - 3, 4)}
        structure = HeifStructure(frozenset(brands), top)
        meta = [box for box in top if box.kind == b"meta"]
        if len(meta) > 1:
            raise Malformed("more than one meta box")
        if meta:
            _read_meta(data, meta[0], structure)
        return structure
    except (struct.error, IndexError) as exc:
        raise Malformed("an ISOBMFF box ends early") from exc


def boxes(data: bytes, at: int, end: int) -> Iterator[Box]:
    """The boxes in ``data[at:end]``; ``Malformed`` when one runs past ``end``."""
    while at < end:
        size, kind = struct.unpack_from(">I4s", data, at)
        body = at + _BOX_HEADER
        if size == 1:
            size = struct.unpack_from(">Q", data, body)[0]
            body += 8
        elif size == 0:
            size = end - at
        if size < body - at or at + size > end:
            raise Malformed(f"box {kind!r} runs past its parent")
        yield Box(kind, at, body, at + size)
        at += size


def _read_meta(data: bytes, meta: Box, structure: HeifStructure) -> None:
    listed = list(boxes(data, meta.body + 4, meta.end))
    children = {box.kind: box for box in listed}
    if len(children) < len(listed):
        # Which of two would libheif or libavif read? Refused rather than guessed.
        raise Malformed("a box is repeated inside meta")
    if b"pitm" in children:
        pitm = children[b"pitm"]
        version = data[pitm.body]
        fmt = ">H" if version == 0 else ">I"
        structure.primary_item = struct.unpack_from(fmt, data, pitm.body + 4)[0]
    if b"iinf" in children:
        _read_iinf(data, children[b"iinf"], structure)
    if b"iprp" in children:
        _read_iprp(data, children[b"iprp"], structure)
    if b"iref" in children:
        _read_iref(data, children[b"iref"], structure)
    if b"iloc" in children:
        idat = children.get(b"idat")
        _read_iloc(data, children[b"iloc"], idat.body if idat else None, structure)


def _read_iinf(data: bytes, iinf: Box, structure: HeifStructure) -> None:
    version = data[iinf.body]
    first = iinf.body + 4 + (2 if version == 0 else 4)
    for infe in boxes(data, first, iinf.end):
        if infe.kind != b"infe" or data[infe.body] < 2:
            continue  # item_type is only in version 2 and later
        wide = data[infe.body] >= 3
        item_id = struct.unpack_from(">I" if wide else ">H", data, infe.body + 4)[0]
        type_at = infe.body + 4 + (4 if wide else 2) + 2
        structure.item_types[item_id] = data[type_at : type_at + 4]


def _read_iprp(data: bytes, iprp: Box, structure: HeifStructure) -> None:
    children = list(boxes(data, iprp.body, iprp.end))
    ipco = next((box for box in children if box.kind == b"ipco"), None)
    if ipco is None:
        return
    properties = list(boxes(data, ipco.body, ipco.end))
    for ipma in (box for box in children if box.kind == b"ipma"):
        version, flags = data[ipma.body], int.from_bytes(data[ipma.body + 1 : ipma.body + 4])
        (count,) = struct.unpack_from(">I", data, ipma.body + 4)
        at = ipma.body + 8
        for _ in range(count):
            item_id = struct.unpack_from(">H" if version < 1 else ">I", data, at)[0]
            at += 2 if version < 1 else 4
            associations = data[at]
            at += 1
            for _ in range(associations):
                if flags & 1:
                    index = struct.unpack_from(">H", data, at)[0] & 0x7FFF
                    at += 2
                else:
                    index = data[at] & 0x7F
                    at += 1
                if 0 < index <= len(properties) and properties[index - 1].kind == b"ispe":
                    size = struct.unpack_from(">II", data, properties[index - 1].body + 4)
                    # Of several sizes, the largest: the cap holds whichever a codec reads.
                    known = structure.item_sizes.get(item_id, (0, 0))
                    if size[0] * size[1] >= known[0] * known[1]:
                        structure.item_sizes[item_id] = size
            if at > ipma.end:
                raise Malformed("ipma runs past its box")


def _read_iref(data: bytes, iref: Box, structure: HeifStructure) -> None:
    wide = data[iref.body] >= 1
    for reference in boxes(data, iref.body + 4, iref.end):
        if reference.kind != b"dimg":
            continue
        fmt, step = (">I", 4) if wide else (">H", 2)
        (source,) = struct.unpack_from(fmt, data, reference.body)
        (count,) = struct.unpack_from(">H", data, reference.body + step)
        at = reference.body + step + 2
        structure.derived_from[source] = [
            struct.unpack_from(fmt, data, at + step * n)[0] for n in range(count)
        ]


def _read_iloc(data: bytes, iloc: Box, idat: int | None, structure: HeifStructure) -> None:
    """The file extents of every item stored in the file or in ``idat``."""
    version = data[iloc.body]
    sizes = data[iloc.body + 4 : iloc.body + 6]
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
    base_size, index_size = sizes[1] >> 4, (sizes[1] & 15 if version in (1, 2) else 0)
    at = iloc.body + 6
    count_size = 4 if version == 2 else 2
    count = _uint(data, at, count_size)
    at += count_size
    for _ in range(count):
        item_size = 4 if version == 2 else 2
        item_id = _uint(data, at, item_size)
        at += item_size
        method = 0
        if version in (1, 2):
            method = _uint(data, at, 2) & 15
            at += 2
        at += 2  # data_reference_index
        base = _uint(data, at, base_size)
        at += base_size
        extent_count = _uint(data, at, 2)
        at += 2
        extents = []
        for _ in range(extent_count):
            at += index_size
            offset = _uint(data, at, offset_size)
            length = _uint(data, at + offset_size, length_size)
            at += offset_size + length_size
            extents.append(Extent(base + offset, length))
        if at > iloc.end:
            raise Malformed("iloc runs past its box")
        if method == 1 and idat is not None:
            extents = [Extent(idat + e.offset, e.length) for e in extents]
        elif method != 0:
            continue  # stored by reference to another item: not a file range
        structure.item_extents[item_id] = extents


def _uint(data: bytes, at: int, size: int) -> int:
    if at + size > len(data):
        raise Malformed("a box field runs past the end")
    return int.from_bytes(data[at : at + size])


# A valid EXIF item holding an empty TIFF (no tags): its 4-byte header offset, then TIFF.
_EMPTY_EXIF_ITEM = b"\0\0\0\0" + b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x00" + b"\x00\x00\x00\x00"


class WalkedIsobmff(WalkedImage):
    """A HEIF or AVIF file whose boxes were read; decoded in full by its codec."""

    # libheif and libavif decode into planes, convert to RGB(A), and Pillow copies the
    # result: several buffers of the whole image at once, as WebP's decoder holds.
    cost_factor = 4
    # A full decode of a phone photo costs far more CPU than any other format's proof.
    costly_proof = True

    def __init__(self, data: bytes, structure: HeifStructure) -> None:
        super().__init__(data, structure.primary_size())
        self.structure = structure

    def without_metadata(self) -> bytes:
        """The file with every metadata item's payload (EXIF, XMP and other MIME or URI
        items) blanked in place: box sizes and item offsets stay valid, and nothing of
        the images moves. Orientation lives in ``irot``/``imir`` properties, which stay.
        """
        out = bytearray(self.data)
        structure = self.structure
        for item_id, kind in structure.item_types.items():
            if kind not in METADATA_ITEM_TYPES:
                continue
            extents = structure.item_extents.get(item_id)
            if extents is None:
                raise Malformed("a metadata item is not stored as a file range")
            for extent in extents:
                if extent.offset + extent.length > len(out):
                    raise Malformed("a metadata item runs past the end")
                out[extent.offset : extent.offset + extent.length] = bytes(extent.length)
            first = extents[0] if extents else None
            if kind == b"Exif" and first is not None and first.length >= len(_EMPTY_EXIF_ITEM):
                out[first.offset : first.offset + len(_EMPTY_EXIF_ITEM)] = _EMPTY_EXIF_ITEM
        return bytes(out)
