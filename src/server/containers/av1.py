"""The AV1 bitstream, as far as the door reads it: the maximum frame size a sequence
header OBU allows (AV1 specification 5.3 and 5.5), for AVIF items and sequence samples.
"""

from server.containers.walked import Malformed

_OBU_SEQUENCE_HEADER = 1


def av1_max_frame_size(obus: bytes) -> tuple[int, int]:
    """The maximum frame size in the sequence header OBU that starts an AV1 item's data
    (after any temporal delimiter); ``Malformed`` when there is none."""
    size = av1_sequence_frame_size(obus)
    if size is None:
        raise Malformed("AV1 item data has no sequence header")
    return size


def av1_sequence_frame_size(obus: bytes) -> tuple[int, int] | None:
    """The maximum frame size of the first sequence header OBU in ``obus`` (an AV1
    item's data or a track's sample), None when it has none; ``Malformed`` when an OBU's
    framing runs past the end."""
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
    if at > len(obus):
        raise Malformed("an AV1 OBU runs past its sample")
    return None


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
