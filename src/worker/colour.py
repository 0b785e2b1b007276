"""Bring thumbnails to sRGB, the colour space the web assumes for untagged images.

Thumbnails carry no ICC profile, so their pixels must already be sRGB:

- an RGB image tagged with a non-sRGB profile (Display P3, Adobe RGB, ...) is converted
  with LittleCMS; a profile with sRGB's primaries is taken as sRGB and costs nothing
  (most camera JPEGs embed one; tone curves are not compared: an sRGB-primaries profile
  with another curve is vanishingly rare in photographs);
- CMYK is converted through its embedded profile, or, without one, with Pillow's plain
  inversion (as browsers do for untagged CMYK);
- grayscale keeps its gray levels (a gray profile only refines the tone curve);
- a profile LittleCMS cannot parse is ignored, as browsers ignore it.

Conversions run on the largest thumbnail rather than the full image: the cost is per
pixel, and resampling before or after a colour transform differs by a rounding error.
"""

import io
from functools import lru_cache

from PIL import Image, ImageCms
from PIL._imagingcms import CmsProfile

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_SRGB_PROFILE = _SRGB.profile
# Colorants are stored as s15Fixed16 numbers: equal within a few units of 2**-16.
_TOLERANCE = 0.002


def to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """``image`` (RGB, RGBA, L, LA or CMYK) as sRGB pixels; CMYK comes back as RGB."""
    transform = _transform(icc_profile, image.mode) if icc_profile else None
    if transform is not None:
        return transform.apply(image)
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image


@lru_cache(maxsize=32)
def _transform(icc_profile: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    if mode not in ("RGB", "RGBA", "CMYK"):
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if mode != "CMYK" and _is_srgb(profile.profile):
            return None
        # NOCACHE: the transform is shared by the worker's threads, and LittleCMS's
        # one-pixel cache is not thread-safe.
        return ImageCms.buildTransform(
            profile,
            _SRGB,
            mode,
            "RGBA" if mode == "RGBA" else "RGB",
            flags=ImageCms.Flags.NOCACHE,
        )
    except (ImageCms.PyCMSError, OSError):  # OSError: a profile LittleCMS cannot parse
        return None


def _is_srgb(profile: CmsProfile) -> bool:
    pairs = (
        (profile.red_colorant, _SRGB_PROFILE.red_colorant),
        (profile.green_colorant, _SRGB_PROFILE.green_colorant),
        (profile.blue_colorant, _SRGB_PROFILE.blue_colorant),
    )
    for theirs, ours in pairs:
        if theirs is None or ours is None:
            return False
        if any(abs(a - b) > _TOLERANCE for a, b in zip(theirs[0], ours[0], strict=True)):
            return False
    return True
