"""GIF: the block walk, the canvas size Pillow will decode, and the metadata strip.

The walk goes over every block to the trailer, counting the frames (the whole image
blocks) and reading the looping extension. A file cut off mid-block after its first
frame is whole is accepted, as browsers show it: the walk ends at the last whole block,
the strip keeps the whole blocks, and the worker animates the frames that decode. The
proof is Pillow's decode of the first frame, one byte per pixel (at most the pixel cap).

The strip keeps the frames and the graphic-control, plain-text and looping extensions
(and an ICC profile); it drops comments, other application extensions and anything
after the trailer.
"""

import struct
from dataclasses import dataclass

from server.containers.walked import Container, Malformed, WalkedImage
from sharer.formats import GIF, Animation

_KEPT_APPLICATIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012")
_KEPT_EXTENSIONS = (0xF9, 0x01)  # graphic control, plain text
_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B
_NETSCAPE_LOOPING = b"\x21\xff\x0bNETSCAPE2.0\x03\x01"


@dataclass(frozen=True)
class GifBlock:
    """One block after the screen descriptor: ``data[start:end]``, introduced by
    ``introducer`` (extension, image or trailer)."""

    introducer: int
    start: int
    end: int


class WalkedGif(WalkedImage):
    """A GIF whose blocks were walked."""

    def __init__(self, data: bytes, blocks: list[GifBlock]) -> None:
        super().__init__(data, _canvas_size(data, blocks), _animation(data, blocks))
        self.blocks = blocks

    def without_metadata(self) -> bytes:
        """The kept blocks (see the module docstring), ending in the trailer."""
        data = self.data
        out = bytearray(data[: 13 + colour_table_size(data[10])])
        for block in self.blocks:
            if block.introducer == _EXTENSION and not _kept_extension(data, block.start):
                continue
            out += data[block.start : block.end]
        if not self.blocks or self.blocks[-1].introducer != _TRAILER:
            out += b";"
        return bytes(out)


def walk(data: bytes) -> WalkedGif:
    """Walk every block of ``data``; raises ``Malformed`` for a block cut short before
    the first frame is whole, or an unknown block."""
    try:
        return WalkedGif(data, _blocks(data))
    except (IndexError, struct.error) as exc:
        raise Malformed("GIF data ends inside a block") from exc


CONTAINER = Container(GIF, walk)


def colour_table_size(flags: int) -> int:
    """Bytes of the colour table that a GIF screen or image descriptor's ``flags`` announce."""
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _sub_blocks_end(data: bytes, at: int) -> int:
    """Offset just past the sub-block sequence starting at ``at`` (its 0 terminator);
    raises ``IndexError`` when ``data`` ends first."""
    while data[at]:
        at += data[at] + 1
    return at + 1


def _blocks(data: bytes) -> list[GifBlock]:
    at = 13 + colour_table_size(data[10])
    blocks = []
    while at < len(data):
        introducer = data[at]
        if introducer == _TRAILER:
            blocks.append(GifBlock(introducer, at, at + 1))
            break
        try:
            if introducer == _EXTENSION:
                end = _sub_blocks_end(data, at + 2)
            elif introducer == _IMAGE:
                end = _sub_blocks_end(data, at + 10 + colour_table_size(data[at + 9]) + 1)
            else:
                raise Malformed(f"unknown GIF block 0x{introducer:02x}")
        except IndexError:
            if any(block.introducer == _IMAGE for block in blocks):
                break  # cut off after the first frame: the whole blocks are kept
            raise
        blocks.append(GifBlock(introducer, at, end))
        at = end
    return blocks


def _canvas_size(data: bytes, blocks: list[GifBlock]) -> tuple[int, int]:
    # Pillow grows the canvas to hold a first frame larger than the logical screen.
    width, height = struct.unpack_from("<HH", data, 6)
    first = next((b for b in blocks if b.introducer != _EXTENSION), None)
    if first is None or first.introducer != _IMAGE:  # the screen is all there is
        return width, height
    x0, y0, frame_width, frame_height = struct.unpack_from("<HHHH", data, first.start + 1)
    return max(width, x0 + frame_width), max(height, y0 + frame_height)


def _animation(data: bytes, blocks: list[GifBlock]) -> Animation | None:
    frames = sum(block.introducer == _IMAGE for block in blocks)
    if frames < 2:
        return None
    # Without a looping extension a GIF plays once; its count N means N + 1 plays in
    # browsers, as libwebp's gif2webp converts it (0 stays "for ever").
    plays = 1
    for block in blocks:
        if data.startswith(_NETSCAPE_LOOPING, block.start) and block.end - block.start >= 19:
            loops = int.from_bytes(data[block.start + 16 : block.start + 18], "little")
            plays = min(loops + 1, 65_535) if loops else 0
            break
    return Animation(frames, plays)


def _kept_extension(data: bytes, at: int) -> bool:
    label = data[at + 1]
    application = data[at + 3 : at + 14] if data[at + 2] == 11 else b""
    return label in _KEPT_EXTENSIONS or (label == 0xFF and application in _KEPT_APPLICATIONS)
