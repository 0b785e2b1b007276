"""Remove an accepted original's metadata without touching its pixels.

The strip rewrites the container only: compressed image data is copied byte for byte,
never decoded or re-encoded, so the stored original decodes to exactly the pixels that
were uploaded. Each format's strip lives in its container module (``server.containers``);
this module dispatches to them.

What goes: everything that can describe the person, place, device or history of a photo
(EXIF with GPS, XMP, IPTC/Photoshop blocks, comments, text chunks, maker notes, embedded
previews, and any bytes after the image's end marker, where phones append videos and
extra pictures). It works by allow-list: what is not known to be needed is dropped.

What stays, because the picture would look different without it:

- the EXIF orientation, as a new minimal EXIF block holding that one tag (the worker and
  browsers rotate by it; everything else in the original EXIF is dropped); HEIF and AVIF
  keep their ``irot``/``imir`` properties instead, and their EXIF and XMP items are
  blanked in place;
- ICC colour profiles (JPEG APP2 ``ICC_PROFILE``, PNG ``iCCP``, WebP ``ICCP``, GIF
  ``ICCRGBG1012``, HEIF/AVIF ``colr``): they hold colorimetry, not personal data;
- JPEG APP0 JFIF (with any embedded thumbnail removed) and APP14 ``Adobe`` (it says how
  to read the colour channels of CMYK and YCCK files);
- PNG chunks that affect rendering or animation (transparency, gamma, chromaticities,
  colour space, background, physical size, APNG frames);
- GIF graphic-control, plain-text and looping extensions; WebP ``ANIM``/``ANMF``/``ALPH``.
"""

from server.containers import Malformed, WalkedImage, walk_container
from server.inspection import InvalidImage
from sharer.formats import ImageFormat

_DAMAGED = "The image's structure is damaged, so its metadata cannot be removed."


def strip_metadata(data: bytes, image_format: ImageFormat) -> bytes:
    """``data`` (a ``image_format`` image) without its metadata; pixels untouched.

    Raises ``InvalidImage`` when the container cannot be walked or rewritten.
    """
    try:
        walked = walk_container(data, image_format)
    except Malformed as exc:
        raise InvalidImage("undecodable", _DAMAGED) from exc
    return strip_walked(walked)


def strip_walked(walked: WalkedImage) -> bytes:
    """The walked upload without its metadata (see ``strip_metadata``), walked no more."""
    try:
        return walked.without_metadata()
    except Malformed as exc:
        raise InvalidImage("undecodable", _DAMAGED) from exc
