"""Inspect an upload: is it an image we accept, and will the worker be able to decode it?

It runs on the request path before the 202, so it is cheap and bounded in memory:

1. the format is sniffed from the bytes (never from the client's Content-Type or name)
   and must be one of the operator's accepted formats;
2. the format's container module (``server.containers``) walks the file once, and the
   pixel cap is enforced on the dimensions its header declares before any Pillow plugin
   parses the file, so Pillow's own decompression-bomb check (at
   ``Image.MAX_IMAGE_PIXELS``) is never approached;
3. the file is opened with the one allow-listed plugin for that format;
4. the container module proves the pixels decode (its docstring says how, and what it
   costs); formats whose proof is a full decode with several buffers (WebP, HEIF, AVIF)
   are held to a fraction of the cap (``WalkedImage.cost_factor``); the costly ones
   (HEIF, AVIF: ``WalkedImage.costly_proof``) run only in a slot the caller gives
   (``server.proof_slots``), which may refuse.

An animation (GIF, APNG, WebP, AVIF sequence: two frames or more, as its container
counts them) is also held to the operator's bound on frames, and on frames x pixels
(the worker decodes, resizes and holds every frame); the proof decodes its first frame.
"""

from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image, ImageFile

from server.containers import Malformed, WalkedImage, walk_container
from sharer.formats import ACCEPTED, SNIFF_BYTES, Animation, ImageFormat, format_names, sniff
from sharer.image_decoding import DECODE_ERRORS, open_image

Reason = Literal["empty", "unsupported_format", "too_many_pixels", "too_many_frames", "undecodable"]

_UNDECODABLE = "The image is damaged or incomplete and cannot be read."


class InvalidImage(ValueError):
    """An upload we refuse; ``str(exc)`` is a message for the user, ``reason`` a code."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


@dataclass(frozen=True)
class UploadedImage:
    """What the server needs to know about an accepted upload (dimensions as stored,
    before any EXIF orientation), and its container as walked, for the metadata strip."""

    image_format: ImageFormat
    width: int
    height: int
    has_alpha: bool
    walked: WalkedImage = field(compare=False, repr=False)

    @property
    def animation(self) -> Animation | None:
        """The frames and plays of an animation; None for a still image."""
        return self.walked.animation


@dataclass(frozen=True)
class AnimationLimits:
    """The operator's bounds on an accepted animation (``SHARER_MAX_ANIMATION_*``)."""

    max_frames: int
    max_pixels: int


# The settings' defaults (``sharer.settings``), for callers that pass none.
DEFAULT_ANIMATION_LIMITS = AnimationLimits(max_frames=1000, max_pixels=50_000_000)


def inspect_upload(
    data: bytes,
    *,
    max_pixels: int,
    accepted: Collection[ImageFormat] = tuple(ACCEPTED.values()),
    costly_proof_slot: Callable[[], AbstractContextManager[object]] = nullcontext,
    animation_limits: AnimationLimits = DEFAULT_ANIMATION_LIMITS,
) -> UploadedImage:
    """Accept ``data`` as an image the worker can thumbnail, or raise ``InvalidImage``.

    ``max_pixels`` must not exceed Pillow's ``Image.MAX_IMAGE_PIXELS``: the cap is then
    always reached before Pillow's own bomb check. Formats with a ``cost_factor`` get
    ``max_pixels // cost_factor``. ``accepted`` lists the formats the operator allows.
    A costly proof runs inside ``costly_proof_slot()``, whose own exception (e.g.
    ``server.proof_slots.ProofsBusy``) passes through. An animation is held to
    ``animation_limits`` as well.
    """
    if max_pixels > (Image.MAX_IMAGE_PIXELS or max_pixels):
        raise ValueError(f"max_pixels {max_pixels} is above Pillow's bomb limit")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    if not data:
        raise InvalidImage("empty", "The upload is empty.")
    image_format = sniff(data[:SNIFF_BYTES])
    if image_format is None or image_format not in accepted:
        raise InvalidImage("unsupported_format", unsupported_message(accepted))
    try:
        walked = walk_container(data, image_format)
    except Malformed as exc:
        raise InvalidImage("undecodable", _UNDECODABLE) from exc
    if 0 in walked.size:
        raise InvalidImage("undecodable", _UNDECODABLE)
    max_pixels //= walked.cost_factor
    _check_pixels(walked.size, max_pixels, image_format)
    if walked.decoded_pixels > max_pixels:
        raise InvalidImage(
            "too_many_pixels",
            f"The image is composed of {walked.decoded_pixels:,} decoded pixels; at most "
            f"{max_pixels:,} are accepted for {image_format.name}.",
        )
    if walked.animation is not None:
        _check_animation(walked.animation, walked.size, animation_limits)
    with _refused_if_undecodable():
        image = open_image(walked.pillow_input(), image_format)
    _check_pixels(image.size, max_pixels, image_format)  # what Pillow saw must agree
    accepted_image = UploadedImage(
        image_format, image.width, image.height, _has_alpha(image), walked
    )
    slot = costly_proof_slot() if walked.costly_proof else nullcontext()
    with slot, _refused_if_undecodable():
        walked.prove_decodes(image)
    return accepted_image


def unsupported_message(accepted: Collection[ImageFormat]) -> str:
    """The refusal of a format outside ``accepted``, naming those that are accepted."""
    return f"This is not a {format_names(accepted)} image."


@contextmanager
def _refused_if_undecodable() -> Iterator[None]:
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Unreachable while max_pixels <= MAX_IMAGE_PIXELS; kept so it can never become
        # a 500 if Pillow's limits change.
        raise InvalidImage("too_many_pixels", "The image has too many pixels.") from exc
    except DECODE_ERRORS as exc:
        raise InvalidImage("undecodable", _UNDECODABLE) from exc


def _check_pixels(size: tuple[int, int], max_pixels: int, image_format: ImageFormat) -> None:
    width, height = size
    if width * height > max_pixels:
        raise InvalidImage(
            "too_many_pixels",
            f"The image is {width}x{height} pixels; at most {max_pixels:,} pixels "
            f"are accepted for {image_format.name}.",
        )


def _check_animation(animation: Animation, size: tuple[int, int], limits: AnimationLimits) -> None:
    width, height = size
    if animation.frames > limits.max_frames:
        raise InvalidImage(
            "too_many_frames",
            f"The animation has {animation.frames:,} frames; at most "
            f"{limits.max_frames:,} are accepted.",
        )
    if animation.frames * width * height > limits.max_pixels:
        raise InvalidImage(
            "too_many_frames",
            f"The animation is {animation.frames:,} frames of {width}x{height} pixels; at "
            f"most {limits.max_pixels:,} pixels in all (frames x width x height) are "
            "accepted.",
        )


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA"):
        return True
    transparency = image.info.get("transparency")
    if isinstance(transparency, bytes):  # palette alpha: transparent only below 255
        return min(transparency, default=255) < 255
    return transparency is not None
