"""``sharer upload --fit``: make a photo over the server's limit fit it, on this machine.

The rules are the upload page's: the photo is turned upright (its EXIF orientation
applied), re-encoded without any metadata but its colour profile (so no GPS position, no
camera serial, no XMP leaves with it), as JPEG, or as WebP when it has transparency and
the server takes WebP, and scaled down step by step until it fits. An animation is never
fitted: its frames would be lost. The server's limit and formats come from its own
``/openapi.json`` (``UploadLimits``), not from a copy of them here.

Only the user's own files are opened here, and only with the plugins of the formats a
server may take (HEIC through pi-heif's decode-only plugin).
"""

import io
import math
from dataclasses import dataclass

import pi_heif
from PIL import Image, ImageOps

pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# Pillow's plugin for each media type a server may take.
PLUGINS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
    "image/avif": "AVIF",
}
# The qualities the fitted photo is encoded at: a phone photo's look, at a fraction of
# its bytes; the size is then found by scaling, never by crushing the quality.
JPEG_QUALITY = 85
WEBP_QUALITY = 80
# Each round scales by the square root of the bytes still to shed (bytes grow with the
# pixel count), a little further so that most photos fit in one or two rounds.
SCALE_MARGIN = 0.95
MAX_ROUNDS = 12


class CannotFit(ValueError):
    """A file this command cannot fit; ``str(exc)`` says why, for a person."""


@dataclass(frozen=True)
class UploadLimits:
    """What a server takes: at most ``max_bytes`` per image, of ``media_types``."""

    max_bytes: int
    media_types: frozenset[str]


@dataclass(frozen=True)
class Fitted:
    """A photo made to fit: its bytes, media type, file extension and pixel size."""

    data: bytes
    media_type: str
    extension: str
    width: int
    height: int


def fit_image(data: bytes, limits: UploadLimits) -> Fitted:
    """``data`` made to fit ``limits`` (see the module docstring); ``CannotFit`` for a
    file that is not a still image of a format the server takes, or that cannot fit."""
    plugins = [PLUGINS[t] for t in sorted(limits.media_types) if t in PLUGINS]
    try:
        with Image.open(io.BytesIO(data), formats=plugins) as opened:
            if getattr(opened, "n_frames", 1) > 1:
                raise CannotFit("an animation cannot be fitted: its frames would be lost")
            icc_profile = opened.info.get("icc_profile")
            upright = ImageOps.exif_transpose(opened)
    except CannotFit:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise CannotFit("not an image of a format the server takes") from exc
    media_type = _output_type(upright, limits.media_types)
    mode = "RGBA" if media_type == "image/webp" else "RGB"
    picture = upright.convert(mode)
    scale = 1.0
    for _ in range(MAX_ROUNDS):
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        candidate = picture if scale == 1.0 else picture.resize(size, Image.Resampling.LANCZOS)
        encoded = _encode(candidate, media_type, icc_profile)
        if len(encoded) <= limits.max_bytes:
            extension = "webp" if media_type == "image/webp" else "jpg"
            return Fitted(encoded, media_type, extension, *candidate.size)
        scale *= min(0.9, math.sqrt(limits.max_bytes / len(encoded)) * SCALE_MARGIN)
    raise CannotFit(f"could not make it fit in {limits.max_bytes} bytes")


def _output_type(image: Image.Image, accepted: frozenset[str]) -> str:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if has_alpha and "image/webp" in accepted:
        return "image/webp"
    if "image/jpeg" in accepted:
        return "image/jpeg"
    if "image/webp" in accepted:
        return "image/webp"
    raise CannotFit("the server takes neither JPEG nor WebP, the formats a fit is made in")


def _encode(image: Image.Image, media_type: str, icc_profile: bytes | None) -> bytes:
    # No metadata rides along: the image's own info (EXIF, XMP, comments) is dropped and
    # only the colour profile is passed on.
    image.info = {}
    out = io.BytesIO()
    options: dict[str, object] = {} if icc_profile is None else {"icc_profile": icc_profile}
    if media_type == "image/webp":
        image.save(out, "WEBP", quality=WEBP_QUALITY, **options)
    else:
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, **options)
    return out.getvalue()
