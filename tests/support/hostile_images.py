"""Hostile and broken test files, built from the ordinary ones of ``support.images``:
bombs (small files declaring huge sizes), malformed or cut containers, files of refused
formats and polyglots. The same call returns the same bytes."""

import random
import struct
import zlib

from support.images import (
    apng,
    avif,
    encode,
    heif,
    jpeg,
    photo_image,
    png,
    png_chunk_list,
    png_chunks,
    png_from_chunks,
    webp,
)

Size = tuple[int, int]


def apng_inconsistent(fault: str) -> bytes:
    """An APNG whose acTL announces one frame (so Pillow decodes it as a still PNG and
    reads the animation chunks after the pixels) and whose second fcTL is broken:
    ``sequence`` (a wrong sequence number) or ``outside`` (a frame beyond the canvas)."""
    chunks = png_chunk_list(apng())
    chunks = [(k, struct.pack(">II", 1, 0)) if k == b"acTL" else (k, b) for k, b in chunks]
    at = [n for n, (kind, _) in enumerate(chunks) if kind == b"fcTL"][1]
    body = chunks[at][1]
    if fault == "sequence":
        body = struct.pack(">I", 7) + body[4:]
    else:
        body = body[:4] + struct.pack(">II", 400, 400) + body[12:]
    chunks[at] = (b"fcTL", body)
    return png_from_chunks(chunks)


def png_last_chunk_cut() -> bytes:
    """A PNG whose pixels are whole but whose last chunk (a text chunk after the pixels,
    where IEND should follow) is cut short."""
    chunks = png_chunk_list(png((48, 32)))
    whole = png_from_chunks([*chunks[:-1], (b"tEXt", b"Comment\0" + b"x" * 200)])
    return whole[:-40]


def declared_as(data: bytes, size: Size) -> bytes:
    """A HEIF or AVIF whose every ``ispe`` property declares ``size``; pixels unchanged."""
    damaged = bytearray(data)
    at = damaged.find(b"ispe")
    while at >= 0:
        damaged[at + 8 : at + 16] = struct.pack(">II", *size)
        at = damaged.find(b"ispe", at + 16)
    return bytes(damaged)


def heif_bomb(size: Size = (30000, 30000)) -> bytes:
    """A small HEIC whose primary image declares ``size``; its HEVC data is a 64x48 one."""
    return declared_as(heif((64, 48)), size)


def avif_bomb(size: Size = (30000, 30000)) -> bytes:
    """A small AVIF whose primary image declares ``size``; its AV1 data is a 64x48 one."""
    return declared_as(avif((64, 48)), size)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first ``keep`` fraction of ``data``."""
    return data[: int(len(data) * keep)]


def corrupt(data: bytes) -> bytes:
    """``data`` damaged where its decoder must notice, whatever its format.

    JPEG: the Huffman table counts are overwritten (libjpeg's "bogus Huffman table").
    PNG: bytes inside the first IDAT are flipped (CRC and zlib stream both break).
    GIF: the LZW data after the first image descriptor is overwritten with 0xFF codes.
    WebP: the bitstream header after the RIFF header is overwritten.
    HEIF, AVIF: the start of the coded data (in ``mdat``) is overwritten.
    Mid-stream garbage in a JPEG or lossy WebP is not used: decoders conceal it.
    """
    damaged = bytearray(data)
    if data.startswith(b"\xff\xd8"):
        at = data.index(b"\xff\xc4") + 5
        damaged[at : at + 16] = b"\xff" * 16
    elif data.startswith(b"\x89PNG"):
        at = data.index(b"IDAT") + 4 + 20
        damaged[at : at + 16] = bytes(b ^ 0x5A for b in data[at : at + 16])
    elif data.startswith(b"GIF"):
        at = _gif_first_lzw_block(data)
        damaged[at : at + min(200, data[at - 1])] = b"\xff" * min(200, data[at - 1])
    elif data.startswith(b"RIFF"):
        damaged[40:80] = b"\xff" * 40
    elif data[4:8] == b"ftyp":
        at = data.rindex(b"mdat") + 4
        damaged[at : at + 16] = b"\xff" * 16
    else:
        raise ValueError("not a format corrupt() knows")
    return bytes(damaged)


def _gif_first_lzw_block(data: bytes) -> int:
    # Offset of the first LZW data sub-block's bytes (its length byte sits just before).
    at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[at] == 0x21:  # extension: label, then sub-blocks up to a zero length
        at += 2
        while data[at]:
            at += data[at] + 1
        at += 1
    flags = data[at + 9]
    at += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    return at + 2  # past the LZW minimum code size and the sub-block length


def png_bomb(size: Size = (30000, 30000), *, payload: int = 64 * 1024) -> bytes:
    """A small PNG whose header declares ``size``; its IDAT holds only ``payload`` bytes."""
    rng = random.Random(size[0] * 31 + size[1])
    filler = bytes(rng.randrange(256) for _ in range(min(payload, 4096))) * (payload // 4096 + 1)
    return png_chunks(size, 2, 8, zlib.compress(filler[:payload], 0))


def gif_bomb(
    size: Size = (30000, 30000), *, screen: Size | None = None, payload: int = 64 * 1024
) -> bytes:
    """A small GIF whose first frame declares ``size`` (its screen too, unless ``screen``
    is given); little LZW data follows."""
    width, height = size
    screen_width, screen_height = screen or size
    header = struct.pack("<HHBBB", screen_width, screen_height, 0x80, 0, 0)
    screen_block = b"GIF89a" + header + b"\x00" * 3 + b"\xff" * 3
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02"
    body = b"".join(b"\xff" + b"\x00" * 255 for _ in range(payload // 256))
    return screen_block + frame + body + b"\x00;"


def jpeg_bomb(size: Size = (65000, 65000)) -> bytes:
    """A small JPEG whose frame header (SOF) declares ``size``; its scan is a 64x48 one."""
    data = bytearray(jpeg((64, 48)))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", size[1], size[0])
    return bytes(data)


def webp_bomb(size: Size = (16383, 16383)) -> bytes:
    """A small lossy WebP whose VP8 frame header declares ``size`` (14 bits a side)."""
    data = bytearray(webp((64, 48)))
    assert data[12:16] == b"VP8 "
    data[26:30] = struct.pack("<HH", size[0], size[1])
    return bytes(data)


def psd_header() -> bytes:
    """The start of a Photoshop document: signature, header and empty sections."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 64, 64, 8, 3)
    return header + struct.pack(">III", 0, 0, 0) + b"\x00\x00" + b"\x00" * 64


def not_allowed() -> dict[str, bytes]:
    """Files of formats the service refuses, by name: real encodings and hostile text."""
    picture = photo_image((64, 48), grain=0)
    return {
        "tiff": encode(picture, "TIFF"),
        "bmp": encode(picture, "BMP"),
        "ico": encode(picture, "ICO"),
        "psd": psd_header(),
        "eps": (
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 48\n"
            b"newpath 0 0 moveto 64 48 lineto stroke showpage\n%%EOF\n"
        ),
        "svg": (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" '
            b'height="48" onload="alert(1)"><rect width="64" height="48"/></svg>'
        ),
        "html": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        "pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    }


POLYGLOT_HTML = b"<html><body><script>alert(document.domain)</script></body></html>"


def jpeg_html_polyglot() -> bytes:
    """A valid JPEG that is also HTML to a sniffing browser: the page sits in a comment
    segment within the first bytes, and again after the end-of-image marker."""
    data = jpeg((64, 48))
    comment = b"\xff\xfe" + struct.pack(">H", len(POLYGLOT_HTML) + 2) + POLYGLOT_HTML
    return data[:2] + comment + data[2:] + POLYGLOT_HTML
