"""The only way our code opens image bytes: the allow-listed Pillow plugins and the
errors decoding may raise.

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

import pi_heif
from PIL import (
    AvifImagePlugin,
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from sharer.formats import ImageFormat

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


def open_image(data: bytes, image_format: ImageFormat) -> Image.Image:
    """Open ``data`` lazily with the one plugin of ``image_format``; pixels are not decoded.

    Raises ``PIL.UnidentifiedImageError`` (an ``OSError``) when the bytes are not that
    format, and ``PIL.Image.DecompressionBombError`` past Pillow's own hard limit.
    """
    return Image.open(io.BytesIO(data), formats=(image_format.name,))
