"""Animated thumbnails: an animated original (GIF, APNG, WebP, AVIF sequence) becomes an
animated WebP at every size, frame for frame.

The door counted the frames and read how many times the animation plays
(``sharer.formats.Animation``), and planned WebP thumbnails. Here every frame is decoded
once, in order (Pillow composes each on its canvas: GIF and APNG disposal and blending,
WebP and AVIF through their own decoders), and made display-ready as a still is (EXIF
orientation of the first frame, sRGB, no metadata), then cascaded to every size like a
still's thumbnails (``worker.thumbnails``). Each size keeps the original's frame
durations and plays. At most the counted frames are decoded; a frame past the first that
fails to decode ends the animation there, as browsers show a file cut short.

libwebp's animation encoder merges a frame identical to the one before it into that one,
with their durations summed: such an animation has fewer frames and plays the same.
Every frame of every size is held until its size is encoded: ``animation_cost`` says how
much that is, and the door's bound on frames x pixels bounds it.
"""

import io
from collections.abc import Sequence

from PIL import Image

from sharer.formats import Animation, ImageFormat
from sharer.image_decoding import DECODE_ERRORS, open_image
from sharer.messages import PlannedThumbnail
from worker.colour import to_srgb
from worker.thumbnails import (
    UPRIGHT,
    WEBP_METHOD,
    WEBP_QUALITY,
    RenderedThumbnails,
    Size,
    ThumbnailError,
    covers,
    exif_orientation,
    fit,
    normalize,
    oriented,
    resize,
    thumbhash,
)

# What decoding one frame holds, in four-byte canvases: the decoder's own canvas and the
# previous one (disposal, WebP's and AVIF's decoders), the frame Pillow hands over, and
# its normalized copy.
_CANVAS_COPIES = 4
# libwebp's animation encoder keeps candidate and previous canvases of the size it
# encodes, and the output grows beside them: a dozen canvases of the largest thumbnail
# cover it (bench/results/animations.md compares the reservation with the peak).
_ENCODER_CANVASES = 12
_BYTES_PER_PIXEL = 4
# The browsers' background for an animated WebP is the page: none is stated.
_TRANSPARENT = (0, 0, 0, 0)


def animation_cost(
    data: bytes,
    source_format: ImageFormat,
    specs: Sequence[PlannedThumbnail],
    animation: Animation,
) -> int:
    """Bytes ``render_animated_thumbnails`` holds at most, from the header alone: the
    frame being decoded, every thumbnail frame of every size (all held until encoded),
    the encoder's canvases, plus the original's own bytes. ``ThumbnailError`` for an
    unreadable header.
    """
    try:
        image = open_image(data, source_format)
    except DECODE_ERRORS as exc:
        raise ThumbnailError(f"cannot read the {source_format.name} header: {exc}") from exc
    display = oriented(image.size, exif_orientation(image))
    thumbnails = [_area(fit(display, (spec.width, spec.height))) for spec in specs]
    canvas = _area(image.size) * _CANVAS_COPIES
    encoder = max(thumbnails) * _ENCODER_CANVASES
    pixels = canvas + encoder + animation.frames * sum(thumbnails)
    return pixels * _BYTES_PER_PIXEL + len(data)


def render_animated_thumbnails(
    data: bytes,
    source_format: ImageFormat,
    specs: Sequence[PlannedThumbnail],
    animation: Animation,
) -> RenderedThumbnails:
    """One animated WebP per spec (``specs`` must not be empty), with the original's
    upright size, each thumbnail's size, the ThumbHash of the smallest's first frame and
    the frame count decoded.

    Raises ``ThumbnailError`` when not even the first frame decodes.
    """
    try:
        image = open_image(data, source_format)
        image.load()
    except DECODE_ERRORS as exc:
        raise ThumbnailError(f"cannot decode the {source_format.name} original: {exc}") from exc
    orientation = exif_orientation(image)
    icc_profile = image.info.get("icc_profile")
    display = oriented(image.size, orientation)
    ordered = sorted(specs, key=lambda s: s.width * s.height, reverse=True)
    sizes = {spec.name: fit(display, (spec.width, spec.height)) for spec in ordered}
    frames: dict[str, list[Image.Image]] = {spec.name: [] for spec in ordered}
    durations: list[float] = []
    for index in range(animation.frames):
        if index and not _decoded(image, index):
            break
        durations.append(image.info.get("duration", 0))
        upright = _upright(_frame(image), sizes[ordered[0].name], orientation, icc_profile)
        made: list[Image.Image] = []
        for spec in ordered:
            # Largest first: the last made that covers this size is the cheapest parent.
            size = sizes[spec.name]
            parent = next((m for m in reversed(made) if covers(m.size, size)), upright)
            thumbnail = resize(parent, size)
            made.append(thumbnail)
            frames[spec.name].append(thumbnail)
    encoded = {name: _encode(held, durations, animation.plays) for name, held in frames.items()}
    return RenderedThumbnails(
        encoded,
        display,
        sizes,
        thumbhash(frames[ordered[-1].name][0]),
        # Animated WebP has no variants (``sharer.thumbnail_variants``: JPEG's only).
        {name: {} for name in encoded},
        frames=len(durations),
    )


def _frame(image: Image.Image) -> Image.Image:
    """The current frame of ``image``, normalized, as an image of its own: the next seek
    overwrites the file's pixels, and a file held as a frame would be saved whole."""
    frame = normalize(image)
    return image.copy() if frame is image else frame


def _decoded(image: Image.Image, index: int) -> bool:
    """Whether frame ``index`` of ``image`` decodes (it is then loaded)."""
    try:
        image.seek(index)
        image.load()
    except DECODE_ERRORS:
        return False
    return True


def _upright(
    frame: Image.Image, size: Size, orientation: int, icc_profile: bytes | None
) -> Image.Image:
    """``frame`` at the largest thumbnail's ``size``, upright and in sRGB."""
    shrunk = resize(frame, oriented(size, orientation))
    if orientation in UPRIGHT:
        shrunk = shrunk.transpose(UPRIGHT[orientation])
    return to_srgb(shrunk, icc_profile)


def _encode(frames: list[Image.Image], durations: list[float], plays: int) -> bytes:
    frames = [_as_rgb(frame) for frame in frames]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=plays,
        background=_TRANSPARENT,
        quality=WEBP_QUALITY,
        method=WEBP_METHOD,
    )
    return buffer.getvalue()


def _as_rgb(frame: Image.Image) -> Image.Image:
    """An RGB or RGBA frame with no metadata (nothing of the original's ``info`` leaves)."""
    if frame.mode not in ("RGB", "RGBA"):
        frame = frame.convert("RGBA" if "A" in frame.mode else "RGB")
    frame.info = {}
    return frame


def _area(size: Size) -> int:
    return size[0] * size[1]
