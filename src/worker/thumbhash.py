"""ThumbHash encoding (https://evanw.github.io/thumbhash/): a placeholder of a few bytes.

Written here on NumPy because the one maintained binding on PyPI ships wheels for x86_64
alone and the AMI's default architecture is arm64. The DCT sums of the reference encoder
are matrix products here; rounding is the reference's (half up), so the bytes are the
same as the reference's (tests/unit/test_thumbhash.py compares them with that binding).
"""

import numpy as np
from numpy.typing import NDArray

# ThumbHash is defined for images of at most 100x100 pixels.
MAX_SIDE = 100

FloatArray = NDArray[np.float64]


def rgba_to_thumbhash(width: int, height: int, rgba: bytes) -> bytes:
    """The ThumbHash of ``width`` x ``height`` pixels of 8-bit RGBA (row-major)."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"{width}x{height} does not fit in {MAX_SIDE}x{MAX_SIDE}")
    pixels = np.frombuffer(rgba, dtype=np.uint8).reshape(height, width, 4) / 255.0
    alpha = pixels[..., 3]
    colour = pixels[..., :3] * alpha[..., None]
    total_alpha = float(alpha.sum())
    average = colour.sum(axis=(0, 1)) / total_alpha if total_alpha else np.zeros(3)
    # Composite atop the average colour, then to luminance and two chroma channels.
    composite = average * (1.0 - alpha[..., None]) + colour
    red, green, blue = composite[..., 0], composite[..., 1], composite[..., 2]
    luminance = (red + green + blue) / 3.0
    yellow_blue = (red + green) / 2.0 - blue
    red_green = red - green

    has_alpha = total_alpha < width * height
    limit = 5 if has_alpha else 7
    longest = max(width, height)
    lx = max(1, _round(limit * width / longest))
    ly = max(1, _round(limit * height / longest))
    l_dc, l_ac, l_scale = _encode_channel(luminance, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _encode_channel(yellow_blue, 3, 3)
    q_dc, q_ac, q_scale = _encode_channel(red_green, 3, 3)

    landscape = width > height
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (
        (ly if landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (int(landscape) << 15)
    )
    digest = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255]
    digest.append(header16 >> 8)
    factors = [l_ac, p_ac, q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _encode_channel(alpha, 5, 5)
        digest.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
        factors.append(a_ac)
    nibbles = [_round(15 * f) for ac in factors for f in ac]
    for index in range(0, len(nibbles), 2):
        high = nibbles[index + 1] if index + 1 < len(nibbles) else 0
        digest.append(nibbles[index] | (high << 4))
    return bytes(digest)


def _encode_channel(channel: FloatArray, nx: int, ny: int) -> tuple[float, list[float], float]:
    """DC term, AC terms normalised to [0, 1], and their scale, of ``nx`` x ``ny`` terms
    in the reference's triangular order (row by row, fewer columns in later rows)."""
    height, width = channel.shape
    cos_x = np.cos(np.pi / width * np.outer(np.arange(nx), np.arange(width) + 0.5))
    cos_y = np.cos(np.pi / height * np.outer(np.arange(ny), np.arange(height) + 0.5))
    terms = cos_y @ channel @ cos_x.T / (width * height)
    ordered = [terms[cy, cx] for cy in range(ny) for cx in range(nx) if cx * ny < nx * (ny - cy)]
    dc, ac = float(ordered[0]), [float(f) for f in ordered[1:]]
    scale = max((abs(f) for f in ac), default=0.0)
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale


def _round(value: float) -> int:
    """JavaScript's Math.round (half up), which the reference encoder uses."""
    return int(np.floor(value + 0.5))
