"""Our ThumbHash encoder against the reference's (the Rust crate, through fast-thumbhash).

The reference computes in 32-bit floats and ours in 64-bit, so a quantised value on a
rounding edge may land one step apart; every field must be within that one step, and
the layout (alpha, orientation, term counts, length) must be the same.
"""

import random
from dataclasses import dataclass

import pytest
from PIL import Image, ImageDraw

from worker.thumbhash import MAX_SIDE, rgba_to_thumbhash

reference = pytest.importorskip("fast_thumbhash", reason="the reference ships x86_64 wheels only")


@dataclass(frozen=True)
class Fields:
    """A ThumbHash taken apart: layout, quantised constants, and AC nibbles by channel."""

    layout: tuple[int, ...]
    constants: tuple[int, ...]
    channels: tuple[tuple[int, list[int]], ...]  # (quantised scale, AC nibbles)


def _terms(nx: int, ny: int) -> int:
    return sum(1 for cy in range(ny) for cx in range(nx) if cx * ny < nx * (ny - cy)) - 1


def _fields(digest: bytes) -> Fields:
    header24 = digest[0] | digest[1] << 8 | digest[2] << 16
    header16 = digest[3] | digest[4] << 8
    has_alpha, landscape = header24 >> 23 & 1, header16 >> 15
    limit = 5 if has_alpha else 7
    lx = limit if landscape else header16 & 7
    ly = header16 & 7 if landscape else limit
    l_scale, p_scale, q_scale = header24 >> 18 & 31, header16 >> 3 & 63, header16 >> 9 & 63
    constants = [header24 & 63, header24 >> 6 & 63, header24 >> 12 & 63, l_scale]
    constants += [p_scale, q_scale]
    start = 5
    scales = [(l_scale, _terms(max(3, lx), max(3, ly))), (p_scale, 5), (q_scale, 5)]
    if has_alpha:
        constants += [digest[5] & 15, digest[5] >> 4]
        scales.append((digest[5] >> 4, _terms(5, 5)))
        start = 6
    nibbles = [n for byte in digest[start:] for n in (byte & 15, byte >> 4)]
    channels, at = [], 0
    for scale, count in scales:
        channels.append((scale, nibbles[at : at + count]))
        at += count
    return Fields((has_alpha, landscape, lx, ly, len(digest)), tuple(constants), tuple(channels))


def _images(count: int) -> list[Image.Image]:
    """Photo-like, flat, transparent and odd-sized RGBA images up to 100x100."""
    rng = random.Random(7)

    def colour(alpha: int) -> tuple[int, int, int, int]:
        return (rng.randrange(256), rng.randrange(256), rng.randrange(256), alpha)

    made = []
    for n in range(count):
        width, height = rng.randint(1, MAX_SIDE), rng.randint(1, MAX_SIDE)
        image = Image.new("RGBA", (width, height), colour(255))
        draw = ImageDraw.Draw(image)
        for _ in range(n % 6):
            left, right = sorted(rng.randrange(width + 1) for _ in range(2))
            top, bottom = sorted(rng.randrange(height + 1) for _ in range(2))
            draw.ellipse((left, top, right, bottom), fill=colour(rng.choice((0, 128, 255))))
        if n % 5 == 0:
            image.putalpha(Image.linear_gradient("L").resize((width, height)))
        made.append(image)
    return made


def test_every_field_is_within_one_step_of_the_references() -> None:
    for image in _images(400):
        data = image.tobytes()
        ours = _fields(rgba_to_thumbhash(image.width, image.height, data))
        theirs = _fields(bytes(reference.rgba_to_thumb_hash(image.width, image.height, data)))
        assert ours.layout == theirs.layout, image.size
        assert all(abs(a - b) <= 1 for a, b in zip(ours.constants, theirs.constants, strict=True))
        for (scale, mine), (_, other) in zip(ours.channels, theirs.channels, strict=True):
            assert len(mine) == len(other)
            # With a scale of (almost) zero the AC terms are rounding noise in both.
            if scale > 1:
                assert all(abs(a - b) <= 1 for a, b in zip(mine, other, strict=True)), image.size


def test_most_hashes_are_byte_for_byte_the_references() -> None:
    images = [i for i in _images(200) if i.getcolors(maxcolors=1) is None]  # not flat
    same = sum(
        rgba_to_thumbhash(i.width, i.height, i.tobytes())
        == bytes(reference.rgba_to_thumb_hash(i.width, i.height, i.tobytes()))
        for i in images
    )
    assert same >= len(images) // 2


@pytest.mark.parametrize("size", [(0, 10), (101, 10), (10, 101)])
def test_sizes_outside_the_box_are_refused(size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        rgba_to_thumbhash(*size, bytes(4 * size[0] * size[1]))
