"""The image formats the service accepts, and the only way our code opens image bytes.

Pillow tries every plugin it knows when asked to open unknown bytes, including ones that
hand data to Ghostscript (EPS) or parse complex containers (TIFF, PSD). We import the four
allow-listed plugins ourselves and always pass ``formats=``, so no other plugin is reached
with untrusted bytes.
"""

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import (
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

_REGISTERED_PLUGINS = (GifImagePlugin, JpegImagePlugin, PngImagePlugin, WebPImagePlugin)

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

ACCEPTED: dict[str, ImageFormat] = {f.name: f for f in (JPEG, PNG, GIF, WEBP)}


def sniff(head: bytes) -> ImageFormat | None:
    """Identify an accepted format from the first bytes alone (at least 12 are needed)."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def open_image(data: bytes, image_format: ImageFormat) -> Image.Image:
    """Open ``data`` lazily with the one plugin of ``image_format``; pixels are not decoded.

    Raises ``PIL.UnidentifiedImageError`` (an ``OSError``) when the bytes are not that
    format, and ``PIL.Image.DecompressionBombError`` past Pillow's own hard limit.
    """
    return Image.open(io.BytesIO(data), formats=(image_format.name,))
