"""Remove an accepted original's metadata without touching its pixels.

``strip_metadata`` rewrites the container only: compressed image data is copied byte for
byte, never decoded or re-encoded, so the stored original decodes to exactly the pixels
that were uploaded. It runs on images ``inspect_upload`` has accepted.

What goes: everything that can describe the person, place, device or history of a photo
(EXIF with GPS, XMP, IPTC/Photoshop blocks, comments, text chunks, maker notes, embedded
previews, and any bytes after the image's end marker, where phones append videos and
extra pictures). It works by allow-list: what is not known to be needed is dropped.

What stays, because the picture would look different without it:

- the EXIF orientation, as a new minimal EXIF block holding that one tag (the worker and
  browsers rotate by it; everything else in the original EXIF is dropped);
- ICC colour profiles (JPEG APP2 ``ICC_PROFILE``, PNG ``iCCP``, WebP ``ICCP``, GIF
  ``ICCRGBG1012``): they hold colorimetry, not personal data;
- JPEG APP0 JFIF (with any embedded thumbnail removed) and APP14 ``Adobe`` (it says how
  to read the colour channels of CMYK and YCCK files);
- PNG chunks that affect rendering or animation (transparency, gamma, chromaticities,
  colour space, background, physical size, APNG frames);
- GIF graphic-control, plain-text and looping extensions; WebP ``ANIM``/``ANMF``/``ALPH``.
"""

import struct
from collections.abc import Callable

from server.inspection import InvalidImage
from server.privacy.exif import Malformed
from server.privacy.gif import strip_gif
from server.privacy.jpeg import strip_jpeg
from server.privacy.png import strip_png
from server.privacy.webp import strip_webp
from sharer.formats import GIF, JPEG, PNG, WEBP, ImageFormat

_DAMAGED = "The image's structure is damaged, so its metadata cannot be removed."

_STRIPPERS: dict[str, Callable[[bytes], bytes]] = {
    JPEG.name: strip_jpeg,
    PNG.name: strip_png,
    GIF.name: strip_gif,
    WEBP.name: strip_webp,
}


def strip_metadata(data: bytes, image_format: ImageFormat) -> bytes:
    """``data`` (a ``image_format`` image) without its metadata; pixels untouched.

    Raises ``InvalidImage`` when the container cannot be walked to its end (e.g. a GIF
    whose later frames are cut off: its first frame passed inspection, the rest did not).
    """
    try:
        return _STRIPPERS[image_format.name](data)
    except (Malformed, IndexError, struct.error) as exc:
        raise InvalidImage("undecodable", _DAMAGED) from exc
