"""Turn an original image into its thumbnails: a pure function of bytes to bytes.

One decode, then every thumbnail from it:

- JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8) that still covers the
  largest thumbnail (libjpeg's shrink-on-load via ``draft``): far less IDCT work and
  memory than a full decode. A still WebP is decoded straight to the largest
  thumbnail's size by libwebp's own scaler (``worker.webp_shrink``). Other formats, and
  WebP where that is not possible, are decoded in full (first frame).
- The largest thumbnail is made from the decoded image, then EXIF orientation (all
  eight values) and the conversion to sRGB are applied to it, where they are cheapest;
  each smaller thumbnail is cascaded from the smallest thumbnail already made that
  covers it.
- Sizes fit the box with the aspect kept (to the nearest pixel, at least 1 px) and are
  never upscaled.
- Output carries no metadata at all: no EXIF (so no GPS), no XMP, no comment, and no ICC
  profile either: pixels are sRGB, which the web assumes for untagged images.
- Along the way it tells the original's upright size, each thumbnail's size and a
  ThumbHash of the smallest thumbnail (from its pixels in memory, never re-decoded).

Quality settings, chosen on ``bench/thumbnailer.py``: see the constants below.
"""

import base64
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import ExifTags, Image

from sharer.formats import AVIF, JPEG, WEBP, ImageFormat
from sharer.image_decoding import DECODE_ERRORS, open_image
from sharer.messages import PlannedThumbnail
from sharer.thumbnail_variants import variants_of
from worker.colour import to_srgb
from worker.thumbhash import rgba_to_thumbhash
from worker.webp_shrink import shrunk_webp

# Chosen on bench/thumbnailer.py's corpus; what each choice was measured against is in
# bench/results/design_measurements.md (an entry per constant below).
#
# Resampling: reduce() (a box filter) by the largest integer factor that keeps the image
# at least as large as the target (REDUCING_GAP 1.0), then BICUBIC for the remaining
# factor, which is below 2: LANCZOS's quality on the large thumbnail within a fraction
# of a dB for less CPU, because Pillow's resampling is scalar C and costs more than the
# JPEG decode; cascaded sizes become exact box reductions (600 -> 300 -> 100), close to
# LANCZOS for a small part of its cost
# (bench/results/design_measurements.md#thumbnail-resampling).
RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 1.0
# JPEG: quality 85, 4:2:0, baseline, no optimized Huffman tables: optimizing or going
# progressive saves a few percent of the bytes for several times the encode time
# (bench/results/design_measurements.md#thumbnail-jpeg-encoding).
JPEG_QUALITY = 85
# WebP (only for images with alpha; the alpha plane is lossless, Pillow's default):
# method 0, because the alpha plane dominates the encode and the encodes dominate an
# alpha image's job; higher methods buy a modest share of the bytes for several times
# the time (bench/results/thumbnailer.md, its WebP method table;
# bench/results/design_measurements.md#thumbnail-webp-method).
WEBP_QUALITY = 80
WEBP_METHOD = 0
# Variants of the JPEG thumbnails (``sharer.thumbnail_variants``): the lowest settings
# whose SSIMULACRA2 score over the corpus is at least the JPEG's, with the fastest
# effort that fits the worker's CPU budget (bench/results/variants.md). AVIF is encoded
# on one thread: the worker runs jobs side by side already. AVIF keeps full-resolution
# chroma (4:4:4): at libaom's fastest speed it reaches the JPEG's score in far fewer
# bytes than 4:2:0 for the same encode time.
AVIF_VARIANT_QUALITY = 49
AVIF_VARIANT_SPEED = 10
AVIF_VARIANT_SUBSAMPLING = "4:4:4"
WEBP_VARIANT_QUALITY = 84
WEBP_VARIANT_METHOD = 0

# EXIF orientation -> the transposition that makes the stored pixels upright.
UPRIGHT: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = frozenset((5, 6, 7, 8))
# Modes normalize keeps as they are (no second copy of the pixels).
_KEPT_MODES = frozenset(("L", "LA", "RGB", "RGBA", "CMYK"))
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_WHITE = (255, 255, 255)
# ThumbHash is defined for images of at most 100x100.
THUMBHASH_BOX = (100, 100)

Size = tuple[int, int]


@dataclass(frozen=True)
class RenderedThumbnails:
    """The encoded thumbnails by name, with what a client needs to lay them out."""

    encoded: dict[str, bytes]
    original_size: Size
    sizes: dict[str, Size]
    thumbhash: str
    # Each thumbnail's variants by name, then by format (``sharer.thumbnail_variants``).
    variants: dict[str, dict[ImageFormat, bytes]]
    # The frames of an animated original's thumbnails; None for a still image.
    frames: int | None = None


class ThumbnailError(Exception):
    """The original cannot be decoded: retrying will not help."""


def make_thumbnails(
    data: bytes, source_format: ImageFormat, specs: Sequence[PlannedThumbnail]
) -> dict[str, bytes]:
    """Encode one thumbnail per spec (name -> bytes in ``spec.image_format``).

    Raises ``ThumbnailError`` when ``data`` is not a decodable ``source_format`` image.
    """
    if not specs:
        return {}
    return render_thumbnails(data, source_format, specs).encoded


def render_thumbnails(
    data: bytes, source_format: ImageFormat, specs: Sequence[PlannedThumbnail]
) -> RenderedThumbnails:
    """``make_thumbnails`` plus the sizes and the ThumbHash placeholder (``specs`` must
    not be empty).

    Raises ``ThumbnailError`` when ``data`` is not a decodable ``source_format`` image.
    """
    upright_size, made = thumbnail_images(data, source_format, specs)
    encoded: dict[str, bytes] = {}
    variants: dict[str, dict[ImageFormat, bytes]] = {}
    for spec, thumbnail in made:
        encoded[spec.name] = encode_thumbnail(thumbnail, spec.image_format)
        variants[spec.name] = {
            f: encode_thumbnail(thumbnail, f, variant=True)
            for f in variants_of(spec.image_format, spec.name)
        }
    sizes = {spec.name: thumbnail.size for spec, thumbnail in made}
    return RenderedThumbnails(encoded, upright_size, sizes, thumbhash(made[-1][1]), variants)


def thumbnail_images(
    data: bytes, source_format: ImageFormat, specs: Sequence[PlannedThumbnail]
) -> tuple[Size, list[tuple[PlannedThumbnail, Image.Image]]]:
    """The original's upright size and each spec's display-ready (upright, sRGB) pixels,
    largest first, before encoding.

    Raises ``ThumbnailError`` when ``data`` is not a decodable ``source_format`` image.
    """
    try:
        source = _Source(data, source_format, specs)
    except DECODE_ERRORS as exc:
        raise ThumbnailError(f"cannot decode the {source_format.name} original: {exc}") from exc
    made: list[tuple[PlannedThumbnail, Image.Image]] = []
    for spec in sorted(specs, key=lambda s: s.width * s.height, reverse=True):
        size = fit(source.size, (spec.width, spec.height))
        # ``made`` goes largest first: the last one that covers ``size`` is the cheapest.
        parent = next((m for _, m in reversed(made) if covers(m.size, size)), None)
        made.append((spec, resize(parent, size) if parent else source.thumbnail(size)))
    return source.size, made


def thumbhash(image: Image.Image) -> str:
    """The ThumbHash of ``image`` (display-ready: upright, sRGB), base64 with padding.

    An image larger than ``THUMBHASH_BOX`` is shrunk to fit it first, as ThumbHash
    requires; the smallest thumbnail usually fits already.
    """
    size = fit(image.size, THUMBHASH_BOX)
    if size != image.size:
        image = resize(image, size)
    rgba = image.convert("RGBA")
    digest = rgba_to_thumbhash(rgba.width, rgba.height, rgba.tobytes())
    return base64.b64encode(digest).decode("ascii")


def fit(size: Size, box: Size) -> Size:
    """The largest size within ``box`` with the aspect of ``size``; never larger than it."""
    width, height = size
    if width <= box[0] and height <= box[1]:
        return size
    scale = min(box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def covers(size: Size, target: Size) -> bool:
    """Whether an image of ``size`` can be shrunk to ``target`` without upscaling."""
    return size[0] >= target[0] and size[1] >= target[1]


class _Source:
    """The decoded original, in its stored orientation, with what is needed to show it."""

    def __init__(
        self, data: bytes, source_format: ImageFormat, specs: Sequence[PlannedThumbnail]
    ) -> None:
        image, stored = _opened(data, source_format, specs)
        if source_format is WEBP:
            image = _shrunk_on_load(image, data, specs)
        # Load exactly once, before reading a PNG's EXIF (which may follow the pixels and
        # would trigger a load that Pillow cannot retry after a failure).
        image.load()
        self.orientation = exif_orientation(image)
        self.size: Size = oriented(stored, self.orientation)
        self.icc_profile: bytes | None = image.info.get("icc_profile")
        self.image = normalize(image)

    def thumbnail(self, size: Size) -> Image.Image:
        """A display-ready (upright, sRGB) image of ``size`` from the decoded original."""
        image = resize(self.image, oriented(size, self.orientation))
        if self.orientation in UPRIGHT:
            image = image.transpose(UPRIGHT[self.orientation])
        return to_srgb(image, self.icc_profile)


def decode_cost(data: bytes, source_format: ImageFormat, specs: Sequence[PlannedThumbnail]) -> int:
    """Bytes ``make_thumbnails`` holds at most for this original, from its header alone.

    The decoded pixels (at the JPEG scale that will be decoded) as Pillow stores them,
    plus the normalized copy where the mode changes, plus the original's own bytes; the
    thumbnails are small beside them. Raises ``ThumbnailError`` for an unreadable header.
    """
    try:
        image, _ = _opened(data, source_format, specs)
    except DECODE_ERRORS as exc:
        raise ThumbnailError(f"cannot read the {source_format.name} header: {exc}") from exc
    if image.mode.startswith("I"):
        copies = 8  # normalize goes through two 32-bit images on its way to L
    elif image.mode not in _KEPT_MODES or "transparency" in image.info:
        copies = 4  # converted to a four-byte mode beside the decoded one
    else:
        copies = 0
    if source_format is WEBP:
        copies += 8  # libwebp's animation decoder keeps two canvases of its own
    return image.size[0] * image.size[1] * (_stored_bytes(image.mode) + copies) + len(data)


def _opened(
    data: bytes, source_format: ImageFormat, specs: Sequence[PlannedThumbnail]
) -> tuple[Image.Image, Size]:
    """The original opened (header read, nothing decoded) with its stored size; a JPEG
    drafted to the DCT scale it will be decoded at."""
    image = open_image(data, source_format)
    stored = image.size
    if source_format is JPEG:
        # draft picks the smallest DCT scale whose result still covers the request.
        image.draft(image.mode, _largest_stored(image, specs))
    return image, stored


def _largest_stored(image: Image.Image, specs: Sequence[PlannedThumbnail]) -> Size:
    """The largest thumbnail's size in the stored orientation of the opened ``image``
    (a JPEG's or WebP's EXIF sits before its pixels: it is known before decoding)."""
    orientation = exif_orientation(image)
    display = oriented(image.size, orientation)
    largest = max((fit(display, (s.width, s.height)) for s in specs), key=_area)
    return oriented(largest, orientation)


def _shrunk_on_load(
    image: Image.Image, data: bytes, specs: Sequence[PlannedThumbnail]
) -> Image.Image:
    """The opened WebP ``image`` decoded at its largest thumbnail's size when libwebp can
    shrink it while decoding, with the original's metadata; else ``image`` unchanged."""
    largest = _largest_stored(image, specs)
    if largest == image.size:
        return image
    shrunk = shrunk_webp(data, largest, image.mode)
    if shrunk is None:
        return image
    shrunk.info = dict(image.info)  # the ICC profile and EXIF orientation still apply
    return shrunk


def _stored_bytes(mode: str) -> int:
    # Pillow keeps 1-byte modes in one byte and 16-bit ones in two; every other mode,
    # RGB included, takes four bytes a pixel.
    return _STORED_BYTES.get(mode, 4)


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 to 8) of the opened ``image``; 1 when absent or unreadable."""
    # Unreadable EXIF is treated as absent, as browsers do: the pixels are fine.
    # (Pillow caches the parsed EXIF, so asking twice costs nothing.)
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except (SyntaxError, ValueError, struct.error, OSError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _area(size: Size) -> int:
    return size[0] * size[1]


def oriented(size: Size, orientation: int) -> Size:
    """``size`` with its axes swapped when ``orientation`` turns the image a quarter."""
    return (size[1], size[0]) if orientation in _SWAPS_AXES else size


def normalize(image: Image.Image) -> Image.Image:
    """One of L, LA, RGB, RGBA, CMYK, with transparency as alpha; no metadata kept."""
    mode = image.mode
    has_key = "transparency" in image.info
    if mode.startswith("I"):  # 16-bit grayscale: scale 0..65535 to 0..255
        image = image.convert("I").point(lambda v: v * (1 / 257) + 0.5).convert("L")
    elif mode in ("P", "PA"):
        image = image.convert("RGBA" if has_key or mode == "PA" else "RGB")
    elif mode == "1":
        image = image.convert("L")
    elif has_key and mode in ("L", "RGB"):
        image = image.convert(mode + "A")
    elif mode not in _KEPT_MODES:
        raise ValueError(f"unsupported image mode {mode}")
    return image


def resize(image: Image.Image, size: Size) -> Image.Image:
    """``image`` resampled to ``size`` (the thumbnails' filter; itself if already so)."""
    if image.size == size:
        return image
    return image.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)


def encode_thumbnail(
    image: Image.Image, image_format: ImageFormat, *, variant: bool = False
) -> bytes:
    """``image`` (a display-ready thumbnail) encoded in ``image_format`` without metadata:
    with the contract's settings, or a variant's (``variant``)."""
    buffer = io.BytesIO()
    # Variants are of JPEG thumbnails (``sharer.thumbnail_variants``): the same pixels.
    if (image_format is JPEG or variant) and image.mode in ("RGBA", "LA"):
        image = _flatten(image)
    if image_format is JPEG and not variant:
        _forget_metadata(image)
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue()
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")
    _forget_metadata(image)
    if image_format is WEBP:
        quality, method = (
            (WEBP_VARIANT_QUALITY, WEBP_VARIANT_METHOD) if variant else (WEBP_QUALITY, WEBP_METHOD)
        )
        image.save(buffer, "WEBP", quality=quality, method=method)
    elif image_format is AVIF and variant:
        image.save(
            buffer,
            "AVIF",
            quality=AVIF_VARIANT_QUALITY,
            speed=AVIF_VARIANT_SPEED,
            subsampling=AVIF_VARIANT_SUBSAMPLING,
            max_threads=1,
        )
    else:
        raise ValueError(
            f"thumbnails are JPEG or WebP (variants AVIF too), not {image_format.name}"
        )
    return buffer.getvalue()


def _forget_metadata(image: Image.Image) -> None:
    # Images inherit ``info`` (EXIF, XMP, comment, ICC) from the one they are made from,
    # and Pillow's JPEG encoder writes ``info["comment"]`` back: nothing of it may leave.
    image.info = {}


def _flatten(image: Image.Image) -> Image.Image:
    """Composite over white: JPEG has no alpha, and what hides under it is not for show."""
    opaque = image.mode[:-1]
    background = Image.new(opaque, image.size, _WHITE if opaque == "RGB" else 255)
    background.paste(image.convert(opaque), mask=image.getchannel("A"))
    return background
