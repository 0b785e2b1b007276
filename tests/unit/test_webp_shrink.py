"""libwebp's decode-and-shrink, reached through Pillow's own copy of libwebp."""

import io

from PIL import Image, ImageChops, ImageStat

from support import hostile_images, images
from worker.webp_shrink import shrunk_webp


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return max(ImageStat.Stat(ImageChops.difference(a, b)).mean)


def pillow_shrunk(data: bytes, size: tuple[int, int]) -> Image.Image:
    return Image.open(io.BytesIO(data)).resize(size, Image.Resampling.LANCZOS)


def test_an_opaque_webp_comes_back_at_the_size_asked_with_its_pixels() -> None:
    data = images.webp((1600, 1200), seed=3)
    shrunk = shrunk_webp(data, (600, 450), "RGB")
    assert shrunk is not None
    assert (shrunk.mode, shrunk.size) == ("RGB", (600, 450))
    assert mean_difference(shrunk, pillow_shrunk(data, (600, 450))) < 4


def test_alpha_is_kept_and_shrunk_with_the_colours() -> None:
    data = images.webp((800, 600), seed=4, alpha=True)
    shrunk = shrunk_webp(data, (400, 300), "RGBA")
    assert shrunk is not None
    assert (shrunk.mode, shrunk.size) == ("RGBA", (400, 300))
    reference = pillow_shrunk(data, (400, 300))
    assert mean_difference(shrunk.getchannel("A"), reference.getchannel("A")) < 2
    # Colours under full transparency are nobody's business: compare what shows.
    grey = Image.new("RGBA", (400, 300), (128, 128, 128, 255))
    shown = [Image.alpha_composite(grey, image).convert("RGB") for image in (shrunk, reference)]
    assert mean_difference(*shown) < 4


def test_a_lossless_webp_is_shrunk_too() -> None:
    data = images.webp((640, 480), seed=5, lossless=True)
    shrunk = shrunk_webp(data, (320, 240), "RGB")
    assert shrunk is not None
    assert mean_difference(shrunk, pillow_shrunk(data, (320, 240))) < 4


def test_what_libwebp_cannot_shrink_is_left_to_pillow() -> None:
    still = images.webp((320, 240))
    assert shrunk_webp(still, (640, 480), "RGB") is None  # never an upscale
    assert shrunk_webp(still, (160, 120), "L") is None
    assert shrunk_webp(hostile_images.truncated(still), (160, 120), "RGB") is None
    frames = [images.photo_image((320, 240), seed=seed) for seed in (1, 2)]
    animated = images.encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])
    assert shrunk_webp(animated, (160, 120), "RGB") is None
