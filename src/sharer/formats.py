"""The image formats the service accepts: their names, how they are sniffed from the first
bytes, and which format a thumbnail is encoded in.

This is vocabulary only, shared by every process and by the CDK app's key scheme, so it
imports no Pillow (nor pi-heif): synthesis must load no decoder. Opening image bytes
lives in ``sharer.image_decoding``.
"""

from collections.abc import Collection
from dataclasses import dataclass


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
