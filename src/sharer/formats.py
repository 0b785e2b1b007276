"""The image formats the service accepts, and the only way our code opens image bytes.

Pillow tries every plugin it knows when asked to open unknown bytes, including ones that
hand data to Ghostscript (EPS) or parse complex containers (TIFF, PSD). We import the
allow-listed plugins ourselves (Pillow's own four and AVIF, and pi-heif's decode-only
HEIF plugin) and always pass ``formats=``, so no other plugin is reached with untrusted
bytes. pi-heif is registered without its thumbnail, depth and auxiliary images: only
the primary image is ever decoded.
"""

import io
import struct
import zlib
from collections.abc import Collection
from dataclasses import dataclass

import pi_heif
from PIL import (
    AvifImagePlugin,
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

_REGISTERED_PLUGINS = (
    AvifImagePlugin,
    GifImagePlugin,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)
pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# Everything Pillow and its decoders raise for bytes that are not a valid image.
DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
    RuntimeError,  # libheif's and libavif's decode errors, through pi-heif and Pillow
)


@dataclass(frozen=True)
class ImageFormat:
    """One accepted format: Pillow's name for it, its media type and its key extension."""

    name: str
    media_type: str
    extension: str


JPEG = ImageFormat("JPEG", "image/jpeg", "jpg")
PNG = ImageFormat("PNG", "image/png", "png")
GIF = ImageFormat("GIF", "image/gif", "gif")
WEBP = ImageFormat("WEBP", "image/webp", "webp")
HEIF = ImageFormat("HEIF", "image/heic", "heic")
AVIF = ImageFormat("AVIF", "image/avif", "avif")

ACCEPTED: dict[str, ImageFormat] = {f.name: f for f in (JPEG, PNG, GIF, WEBP, HEIF, AVIF)}

# How people write the names that are not Pillow's spelling.
_DISPLAY_NAMES = {"WEBP": "WebP"}


def format_names(formats: Collection[ImageFormat]) -> str:
    """``formats`` named for a person, in ``ACCEPTED``'s order: "JPEG, PNG or WebP"."""
    names = [_DISPLAY_NAMES.get(f.name, f.name) for f in ACCEPTED.values() if f in formats]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


# ISOBMFF brands of still images (ISO/IEC 23008-12, the AV1 image file format); the
# sequence brand ``avis`` is sniffed as AVIF so that the door can refuse it by name.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis"})
# Brands past this many bytes are not looked at; real files list a handful.
SNIFF_BYTES = 64


def sniff(head: bytes) -> ImageFormat | None:
    """Identify an accepted format from the first bytes alone (at least 12 are needed;
    an ISOBMFF file's compatible brands are read from the first ``SNIFF_BYTES``)."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return _sniff_brands(head[: min(SNIFF_BYTES, int.from_bytes(head[:4]))])
    return None


def _sniff_brands(ftyp: bytes) -> ImageFormat | None:
    brands = {ftyp[8:12]} | {ftyp[at : at + 4] for at in range(16, len(ftyp) - 3, 4)}
    if brands & _AVIF_BRANDS and not brands & _HEVC_BRANDS:
        return AVIF
    if brands & _HEVC_BRANDS or b"mif1" in brands:  # mif1 alone: the primary item decides
        return HEIF
    return None


def open_image(data: bytes, image_format: ImageFormat) -> Image.Image:
    """Open ``data`` lazily with the one plugin of ``image_format``; pixels are not decoded.

    Raises ``PIL.UnidentifiedImageError`` (an ``OSError``) when the bytes are not that
    format, and ``PIL.Image.DecompressionBombError`` past Pillow's own hard limit.
    """
    return Image.open(io.BytesIO(data), formats=(image_format.name,))


# The formats the worker encodes thumbnails in; a job asking for another is refused.
THUMBNAIL_FORMATS: dict[str, ImageFormat] = {f.name: f for f in (JPEG, WEBP)}


def thumbnail_format(has_alpha: bool, *, animated: bool = False) -> ImageFormat:
    """JPEG for opaque still images; WebP keeps alpha at a fraction of PNG's size and
    time, and is the one thumbnail format that animates (``worker.animated_thumbnails``)."""
    return WEBP if has_alpha or animated else JPEG


@dataclass(frozen=True)
class Animation:
    """An animated original as the door walked it: its frame count and how many times it
    plays (0: for ever), in WebP's and APNG's sense of the count."""

    frames: int
    plays: int
