"""The thumbnailers the benchmark compares; each maps (bytes, format, specs) to outputs.

All encode with the same settings as ours (JPEG quality, 4:2:0, no optimized Huffman
tables, baseline; WebP quality and method, lossless alpha), so times compare like for
like. pyvips also drops metadata (``keep="none"``); naive Pillow keeps what Pillow keeps.
"""

import io
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image, ImageOps

from sharer.formats import JPEG, ImageFormat
from sharer.image_decoding import open_image
from sharer.messages import PlannedThumbnail
from worker import thumbnails

Engine = Callable[[bytes, ImageFormat, Sequence[PlannedThumbnail]], dict[str, bytes]]


def ours(data: bytes, source: ImageFormat, specs: Sequence[PlannedThumbnail]) -> dict[str, bytes]:
    """The service's thumbnailer."""
    return thumbnails.make_thumbnails(data, source, specs)


def naive(data: bytes, source: ImageFormat, specs: Sequence[PlannedThumbnail]) -> dict[str, bytes]:
    """The textbook Pillow loop: open and fully decode once per size, ``thumbnail``, save."""
    out = {}
    for spec in specs:
        image = open_image(data, source)
        image.load()
        image = ImageOps.exif_transpose(image)
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        wants_alpha = has_alpha and spec.image_format is not JPEG
        if image.mode not in ("RGB", "L") or wants_alpha:
            image = image.convert("RGBA" if wants_alpha else "RGB")
        image.thumbnail((spec.width, spec.height), Image.Resampling.LANCZOS)
        out[spec.name] = _pillow_save(image, spec.image_format)
    return out


def floor(data: bytes, source: ImageFormat, specs: Sequence[PlannedThumbnail]) -> dict[str, bytes]:
    """The least any Pillow thumbnailer must do: decode (JPEG at DCT scale), nothing else."""
    image = open_image(data, source)
    if source is JPEG:
        box = max(((s.width, s.height) for s in specs), key=lambda b: b[0] * b[1])
        image.draft(image.mode, thumbnails.fit(image.size, box))
    image.load()
    return {}


# Our thumbnails of each original, decoded once (on the first, warm-up, call).
_MADE: dict[bytes, dict[str, tuple[Image.Image, ImageFormat]]] = {}


def encode_floor(
    data: bytes, source: ImageFormat, specs: Sequence[PlannedThumbnail]
) -> dict[str, bytes]:
    """``floor`` plus encoding thumbnails already made: the least any thumbnailer with
    these outputs must do (no colour work, no resize). The pixels encoded are ours."""
    floor(data, source, specs)
    made = _MADE.get(data)
    if made is None:
        formats = {spec.name: spec.image_format for spec in specs}
        made = _MADE[data] = {
            name: (Image.open(io.BytesIO(encoded)).copy(), formats[name])
            for name, encoded in ours(data, source, specs).items()
        }
    return {name: _pillow_save(image, fmt) for name, (image, fmt) in made.items()}


def pyvips_engine(
    data: bytes, source: ImageFormat, specs: Sequence[PlannedThumbnail]
) -> dict[str, bytes]:
    """libvips: one load with shrink-on-load, autorotate and sRGB, then a cascade."""
    import pyvips

    ordered = sorted(specs, key=lambda s: s.width * s.height, reverse=True)
    out = {}
    current = None
    for spec in ordered:
        if current is None:
            current = pyvips.Image.thumbnail_buffer(
                data, spec.width, height=spec.height, size="down"
            )
        else:
            current = current.thumbnail_image(spec.width, height=spec.height, size="down")
        # Materialize, so the next size shrinks these pixels rather than re-running the
        # whole pipeline from the compressed original.
        current = current.copy_memory()
        out[spec.name] = _vips_save(current, spec.image_format)
    return out


def _pillow_save(image: Image.Image, image_format: ImageFormat) -> bytes:
    buffer = io.BytesIO()
    if image_format is JPEG:
        image.save(buffer, "JPEG", quality=thumbnails.JPEG_QUALITY)
    else:
        image.save(buffer, "WEBP", quality=thumbnails.WEBP_QUALITY, method=thumbnails.WEBP_METHOD)
    return buffer.getvalue()


def _vips_save(image: Any, image_format: ImageFormat) -> bytes:
    if image_format is JPEG:
        data = image.jpegsave_buffer(
            Q=thumbnails.JPEG_QUALITY, optimize_coding=False, interlace=False, keep="none"
        )
    else:
        data = image.webpsave_buffer(
            Q=thumbnails.WEBP_QUALITY, effort=thumbnails.WEBP_METHOD, keep="none"
        )
    return bytes(data)


ENGINES: dict[str, Engine] = {
    "ours": ours,
    "pyvips": pyvips_engine,
    "naive": naive,
    "floor": floor,
    "floor+encode": encode_floor,
}
