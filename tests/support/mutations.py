"""Mutated real images for property tests and fuzzing: valid files of every accepted
format and shape, then damaged the ways files get damaged (and attackers damage them).

``seeds()`` are small so that thousands of examples stay cheap; ``mutated_images()`` is
a Hypothesis strategy drawing a seed and 1-4 mutations, so a failure shrinks to the
fewest, smallest edits of one named seed. ``differential_corpus()`` is a fixed,
reproducible set of valid, odd and mutated files for the door-versus-worker test.
"""

import random
import struct
import zlib
from collections.abc import Callable
from functools import cache
from typing import NamedTuple, TypeVar

from hypothesis import example
from hypothesis import strategies as st

from support import images

SIZE = (48, 32)


@cache
def seeds() -> dict[str, bytes]:
    """One small valid file per format and variant the service accepts."""
    return {
        "jpeg": images.jpeg(SIZE),
        "jpeg_progressive": images.jpeg(SIZE, progressive=True),
        "jpeg_grayscale": images.jpeg(SIZE, mode="L"),
        "jpeg_cmyk": images.jpeg(SIZE, mode="CMYK"),
        "jpeg_oriented": images.oriented_jpeg(6, SIZE),
        "jpeg_icc": images.jpeg(SIZE, icc_profile=images.swapped_icc()),
        "png_rgba": images.png(SIZE),
        "png_rgb": images.png(SIZE, mode="RGB"),
        "png_grey_alpha": images.png(SIZE, mode="LA"),
        "png_palette": images.palette_png(SIZE, colours=16),
        "png_16bit": images.png16(SIZE),
        "png_interlaced": images.interlaced_png(SIZE),
        "gif": images.gif(SIZE),
        "gif_animated": images.gif(SIZE, frames=2, transparent=True),
        "webp": images.webp(SIZE),
        "webp_alpha": images.webp(SIZE, alpha=True),
        "webp_lossless": images.webp(SIZE, lossless=True),
        "webp_exif": images.webp(SIZE, exif=images.exif_bytes(orientation=3, gps=True)),
        "apng": images.apng(SIZE),
        "heif": images.heif(SIZE),
        "heif_alpha": images.heif(SIZE, alpha=True),
        "heif_grid": images.heif((96, 64), tile_size=64),
        "avif": images.avif(SIZE),
        "avif_alpha": images.avif(SIZE, alpha=True),
        "avif_sequence": images.avif_sequence(frames=3, size=SIZE),
        "webp_animated": images.encode(
            images.photo_image(SIZE),
            "WEBP",
            save_all=True,
            loop=2,
            duration=[40, 90],
            append_images=[images.photo_image(SIZE, seed=1)],
        ),
    }


@cache
def odd_valid_images() -> dict[str, bytes]:
    """Valid files at the edges of what the formats allow: every one must be accepted."""
    return {
        "jpeg_1x1": images.jpeg((1, 1)),
        "png_1x1": images.png((1, 1)),
        "png_interlaced_1x1": images.interlaced_png((1, 1)),
        "png_palette_2": images.palette_png((7, 3), colours=2),
        "png_16bit_alpha": images.png16((5, 9), channels="RGBA"),
        "png_text_after_pixels": images.png_from_chunks(
            [*images.png_chunk_list(images.png(SIZE))[:-1], (b"tEXt", b"Late\0"), (b"IEND", b"")]
        ),
        "png_no_iend": images.png_from_chunks(images.png_chunk_list(images.png(SIZE))[:-1]),
        "gif_1x1": images.gif((1, 1)),
        "webp_1x1": images.webp((1, 1)),
        "webp_lossless_alpha": images.webp(SIZE, lossless=True, alpha=True),
        "heif_odd_size": images.heif((17, 9)),
        "heif_many_images": images.heif_many_images(5, SIZE),
        "heif_exif": images.heif(SIZE, exif=images.exif_bytes(orientation=6, gps=True)),
        "avif_odd_size": images.avif((17, 9)),
        "avif_exif": images.avif(SIZE, exif=images.exif_bytes(orientation=8, gps=True)),
    }


Test = TypeVar("Test", bound=Callable[..., None])


def with_every_seed(*more: object) -> Callable[[Test], Test]:
    """Run a ``mutated_images()`` property on every unmutated seed too (followed by
    ``more`` arguments), always, whatever Hypothesis draws: with ``is_seed`` the
    property can then insist the seeds are accepted, so "refuse everything" fails."""

    def decorate(test: Test) -> Test:
        for data in seeds().values():
            test = example(data, *more)(test)
        return test

    return decorate


def is_seed(data: bytes) -> bool:
    """Whether ``data`` is one of the valid, unmutated seeds."""
    return data in seeds().values()


class CorpusFile(NamedTuple):
    """One file of the differential corpus: ``valid`` files must never be refused."""

    name: str
    data: bytes
    valid: bool


def differential_corpus(mutants_per_seed: int) -> list[CorpusFile]:
    """Every seed and odd valid file, then ``mutants_per_seed`` reproducible mutants of
    each seed (the same list on every run)."""
    valid = seeds() | odd_valid_images()
    corpus = [CorpusFile(name, data, True) for name, data in valid.items()]
    for name, data in sorted(valid.items()):
        rng = random.Random(name)
        corpus += [
            CorpusFile(f"{name}#{n}", _mutated(data, rng), False) for n in range(mutants_per_seed)
        ]
    return corpus


def _mutated(data: bytes, rng: random.Random) -> bytes:
    """1-4 of the mutations ``mutated_images`` draws; a PNG's CRCs are then made right
    again half of the time, so that the damage reaches past the CRC check. A PNG may
    instead lose, repeat or reorder whole chunks (APNG frame chunks among them)."""
    if data.startswith(b"\x89PNG") and rng.random() < 0.3:
        return _reordered_chunks(data, rng)
    damaged = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not damaged:
            break
        kind = rng.choice(["flip", "overwrite", "header", "truncate", "splice"])
        at = rng.randrange(len(damaged))
        if kind == "flip":
            damaged[at] ^= 1 << rng.randrange(8)
        elif kind == "overwrite":
            damaged[at : at + rng.randint(1, 16)] = rng.randbytes(rng.randint(1, 16))
        elif kind == "header":
            at = rng.randrange(min(HEADER_BYTES, len(damaged)))
            run = rng.choice([b"\x00", b"\xff", b"\x7f\xff", b"\xff\xff\xff\xff"])
            damaged[at : at + len(run)] = run
        elif kind == "truncate":
            del damaged[rng.randrange(len(damaged) // 2, len(damaged)) :]
        else:
            end = min(len(damaged), at + rng.randint(0, 64))
            damaged[at:end] = rng.choice([rng.randbytes(rng.randint(0, 32)), damaged[at:end] * 2])
    if damaged.startswith(b"\x89PNG") and rng.random() < 0.5:
        _fix_png_crcs(damaged)
    return bytes(damaged)


def _fix_png_crcs(data: bytearray) -> None:
    at = 8
    while at + 12 <= len(data):
        end = at + 12 + struct.unpack_from(">I", data, at)[0]
        if end > len(data):
            return
        struct.pack_into(">I", data, end - 4, zlib.crc32(data[at + 4 : end - 4]))
        at = end


# How many leading bytes hold the signature and the dimensions in every format.
HEADER_BYTES = 40


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    """A seed with 1-4 of: bit flips, overwritten runs (often in the header, where the
    dimensions are), truncation, inserted or deleted runs, a duplicated slice."""
    data = bytearray(seeds()[draw(st.sampled_from(sorted(seeds())))])
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "overwrite", "header", "truncate", "splice"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            run = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(run)] = run
        elif kind == "header":
            at = draw(st.integers(0, min(HEADER_BYTES, len(data)) - 1))
            run = draw(st.sampled_from([b"\x00", b"\xff", b"\x7f\xff", b"\xff\xff\xff\xff"]))
            data[at : at + len(run)] = run
        elif kind == "truncate":
            del data[at:]
        else:
            end = draw(st.integers(at, min(len(data), at + 64)))
            replacement = draw(st.binary(max_size=32) | st.just(bytes(data[at:end]) * 2))
            data[at:end] = replacement
    return bytes(data)


def _reordered_chunks(data: bytes, rng: random.Random) -> bytes:
    chunks = images.png_chunk_list(data)
    for _ in range(rng.randint(1, 3)):
        if len(chunks) < 2:
            break
        at = rng.randrange(1, len(chunks))  # the header stays first
        kind = rng.choice(["drop", "repeat", "swap"])
        if kind == "drop":
            del chunks[at]
        elif kind == "repeat":
            chunks.insert(at, chunks[at])
        elif at + 1 < len(chunks):
            chunks[at], chunks[at + 1] = chunks[at + 1], chunks[at]
    return images.png_from_chunks(chunks)
