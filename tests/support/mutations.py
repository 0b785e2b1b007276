"""Mutated real images for property tests and fuzzing: valid files of every accepted
format and shape, then damaged the ways files get damaged (and attackers damage them).

``seeds()`` are small so that thousands of examples stay cheap; ``mutated_images()`` is
a Hypothesis strategy drawing a seed and 1-4 mutations, so a failure shrinks to the
fewest, smallest edits of one named seed.
"""

from functools import cache

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
    }


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
