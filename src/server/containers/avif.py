"""AVIF: an AV1-coded still image in ISOBMFF boxes, decoded by Pillow's own AVIF plugin.

Sniffed from the ``ftyp`` brands (``sharer.formats``). The walk reads the boxes without
any codec: the primary item must be AV1 (``av01``) or a grid of AV1 tiles, and its
declared size (``ispe``) is held to the pixel cap before libavif parses anything. That
size binds only if the coded frames keep to it: libavif decodes a frame as large as the
AV1 sequence header allows and crops it to ``ispe`` afterwards, so a tiny file declaring
64x64 could make it decode a frame of tens of megapixels (bench/results/inspection.md
refuses one). So the sequence header of every AV1 item is read
here (its maximum frame size), and each must fit its item's ``ispe``, and no item may
declare more than the primary image. An
image sequence (the ``avis`` brand, or any ``moov`` box) is refused: libavif would
decode its track, whose size and frame count no item property bounds. The proof is
libavif's full decode of the primary image, held to a quarter of the pixel cap like WebP.
The strip blanks the EXIF and XMP items in place.
"""

from server.containers.isobmff import HeifStructure, WalkedIsobmff, read_structure
from server.containers.walked import Container, Malformed, UnsupportedVariant
from sharer.formats import AVIF

_OBU_SEQUENCE_HEADER = 1


def walk(data: bytes) -> WalkedIsobmff:
    """Read the boxes of ``data``; raises ``UnsupportedVariant`` for an image sequence,
    and ``Malformed`` unless its primary image is AV1 with a declared size."""
    structure = read_structure(data)
    if b"avis" in structure.brands or any(box.kind == b"moov" for box in structure.top_level):
        raise UnsupportedVariant("Animated AVIF (an image sequence) is not accepted.")
    structure.require_primary_coded_as(b"av01")
    _require_frames_within_declared_sizes(data, structure)
    return WalkedIsobmff(data, structure)


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


def av1_max_frame_size(obus: bytes) -> tuple[int, int]:
    """The maximum frame size in the sequence header OBU that starts an AV1 item's data
    (after any temporal delimiter); ``Malformed`` when there is none."""
    at = 0
    while at < len(obus):
        header = obus[at]
        kind, has_extension, has_size = (header >> 3) & 15, header >> 2 & 1, header >> 1 & 1
        at += 1 + has_extension
        if not has_size:
            raise Malformed("AV1 OBU without a size field")
        size, at = _leb128(obus, at)
        if kind == _OBU_SEQUENCE_HEADER:
            return _sequence_header_size(_Bits(obus[at : at + size]))
        at += size
    raise Malformed("AV1 item data has no sequence header")


def _sequence_header_size(bits: "_Bits") -> tuple[int, int]:
    """AV1 specification 5.5.1, up to max_frame_width_minus_1 and max_frame_height_minus_1."""
    bits.read(3)  # seq_profile
    bits.read(1)  # still_picture
    if bits.read(1):  # reduced_still_picture_header
        bits.read(5)  # seq_level_idx[0]
    else:
        decoder_model_info = False
        buffer_delay_length = 0
        if bits.read(1):  # timing_info_present_flag
            bits.read(64)  # num_units_in_display_tick, time_scale
            if bits.read(1):  # equal_picture_interval
                bits.uvlc()  # num_ticks_per_picture_minus_1
            decoder_model_info = bool(bits.read(1))
            if decoder_model_info:
                buffer_delay_length = bits.read(5) + 1
                bits.read(32 + 5 + 5)  # decoding tick, removal and presentation lengths
        initial_display_delay = bits.read(1)
        for _ in range(bits.read(5) + 1):  # operating points
            bits.read(12)  # operating_point_idc
            if bits.read(5) > 7:  # seq_level_idx
                bits.read(1)  # seq_tier
            if decoder_model_info and bits.read(1):  # decoder_model_present_for_this_op
                bits.read(2 * buffer_delay_length + 1)
            if initial_display_delay and bits.read(1):
                bits.read(4)  # initial_display_delay_minus_1
    width_bits, height_bits = bits.read(4) + 1, bits.read(4) + 1
    return bits.read(width_bits) + 1, bits.read(height_bits) + 1


def _leb128(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for shift in range(0, 56, 7):
        if at >= len(data):
            break
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
    raise Malformed("AV1 OBU size is truncated")


class _Bits:
    """A big-endian bit reader over one OBU's payload."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data)
        self.left = 8 * len(data)

    def read(self, count: int) -> int:
        """The next ``count`` bits as an unsigned integer."""
        if count > self.left:
            raise Malformed("AV1 sequence header is truncated")
        self.left -= count
        return (self.value >> self.left) & ((1 << count) - 1)

    def uvlc(self) -> int:
        """An unsigned variable-length code (AV1 specification 4.10.3)."""
        zeros = 0
        while not self.read(1):
            zeros += 1
            if zeros >= 32:
                return (1 << 32) - 1
        return self.read(zeros) + (1 << zeros) - 1
