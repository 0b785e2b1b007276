"""GIF: keep frames and the control, text and looping extensions; drop comments and the rest."""

from server.image_headers import gif_colour_table_size, gif_sub_blocks_end
from server.privacy.exif import Malformed

_GIF_KEPT_APPLICATIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012")
_GIF_KEPT_EXTENSIONS = (0xF9, 0x01)  # graphic control, plain text


def strip_gif(data: bytes) -> bytes:
    """The GIF ``data`` with only the kept parts; raises ``Malformed`` if it does not parse."""
    at = 13 + gif_colour_table_size(data[10])
    out = bytearray(data[:at])
    while at < len(data):
        introducer = data[at]
        if introducer == 0x3B:  # trailer: anything after it is dropped
            out += b";"
            break
        if introducer == 0x21:
            end = gif_sub_blocks_end(data, at + 2)
            label = data[at + 1]
            application = data[at + 3 : at + 14] if data[at + 2] == 11 else b""
            if label in _GIF_KEPT_EXTENSIONS or (
                label == 0xFF and application in _GIF_KEPT_APPLICATIONS
            ):
                out += data[at:end]
        elif introducer == 0x2C:
            table = gif_colour_table_size(data[at + 9])
            end = gif_sub_blocks_end(data, at + 10 + table + 1)
            out += data[at:end]
        else:
            raise Malformed(f"unknown GIF block 0x{introducer:02x}")
        at = end
    return bytes(out)
