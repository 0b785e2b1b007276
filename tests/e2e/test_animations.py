"""Animations stay animated, and real files refused before are taken: over real HTTP,
against gunicorn and a real worker, every thumbnail checked frame by frame."""

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageSequence

from sharer.thumbnail_sizes import THUMBNAIL_SIZES
from support import images
from support.client import fetch_when_ready, upload, wait_for_status
from support.services import Service, local_service
from worker.thumbnails import fit, thumbhash

FIXTURES = Path(__file__).resolve().parents[1] / "support" / "fixtures"
# Distinct durations, so a frame dropped or shifted shows.
DURATIONS = [100, 250, 40, 70, 500, 120]
SIZE = (480, 270)
# The service's bounds: six frames of SIZE fit, 40 frames or 3 MP of frames do not.
MAX_FRAMES = 40
MAX_ANIMATION_PIXELS = 3_000_000


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A server and one worker on the embedded backends, with small animation bounds."""
    env = {
        "SHARER_MAX_ANIMATION_FRAMES": str(MAX_FRAMES),
        "SHARER_MAX_ANIMATION_PIXELS": str(MAX_ANIMATION_PIXELS),
    }
    yield from local_service(tmp_path_factory.mktemp("animations"), env=env)


def _frames(count: int = len(DURATIONS), size: tuple[int, int] = SIZE) -> list[Image.Image]:
    # Without grain: six APNG frames of SIZE then fit in the upload limit.
    return [images.photo_image(size, seed=seed, grain=0) for seed in range(count)]


def _animation(fmt: str, frames: list[Image.Image], **options: object) -> bytes:
    durations = DURATIONS[: len(frames)]
    extra = {"speed": 10} if fmt == "AVIF" else {}
    return images.encode(
        frames[0], fmt, save_all=True, append_images=frames[1:], duration=durations,
        **extra, **options,
    )  # fmt: skip


def _played(data: bytes) -> tuple[list[tuple[int, int]], list[int], int | None]:
    """Each frame's size and duration, and the loop count, of an animated WebP."""
    sizes, durations = [], []
    with Image.open(io.BytesIO(data), formats=("WEBP",)) as image:
        for frame in ImageSequence.Iterator(image):
            frame.load()
            sizes.append(frame.size)
            durations.append(frame.info["duration"])
        return sizes, durations, image.info.get("loop")


# Each format's loop option, and the plays the WebP must state (0: for ever). A GIF's
# count N means N + 1 plays; libavif writes a sequence that repeats for ever.
CASES = {
    "GIF": ({"loop": 2}, 3),
    "PNG": ({"loop": 2}, 2),
    "WEBP": ({"loop": 5}, 5),
    "AVIF": ({}, 0),
}


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_an_animation_gets_animated_webp_thumbnails_frame_for_frame(
    service: Service, fmt: str
) -> None:
    options, plays = CASES[fmt]
    response = upload(service.base_url, _animation(fmt, _frames(), **options))
    assert response.status_code == 202, response.text
    urls = response.json()
    for size in THUMBNAIL_SIZES:
        assert urls[size.name].endswith(f"/{size.name}.webp")  # final in the 202
        thumbnail = fetch_when_ready(urls[size.name])
        assert thumbnail.status_code == 200
        assert thumbnail.headers["Content-Type"] == "image/webp"
        expected = fit(SIZE, (size.width, size.height))
        assert _played(thumbnail.content) == (
            [expected] * len(DURATIONS),
            DURATIONS,
            plays,
        ), size.name
    status = wait_for_status(service.base_url, response.headers["Location"])
    assert status["status"] == "ready"
    assert (status["animated"], status["frames"]) == (True, len(DURATIONS))
    # From the first frame: the hash of each served (lossy) frame, nearest to the first's.
    hashes = _frame_hashes(requests.get(urls["small"], timeout=10).content)
    assert isinstance(status["thumbhash"], str)
    assert _nearest(status["thumbhash"], hashes) == 0


def _frame_hashes(data: bytes) -> list[str]:
    with Image.open(io.BytesIO(data), formats=("WEBP",)) as image:
        return [thumbhash(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]


def _nearest(wanted: str, hashes: list[str]) -> int:
    def distance(other: str) -> int:
        pairs = zip(base64.b64decode(wanted), base64.b64decode(other), strict=False)
        return sum(abs(a - b) for a, b in pairs)

    return min(range(len(hashes)), key=lambda index: distance(hashes[index]))


def test_an_animation_is_oriented_and_never_upscaled(service: Service) -> None:
    # 120x80 stored, EXIF orientation 6: 80x120 upright, below the large and medium boxes.
    frames = _frames(3, (120, 80))
    data = _animation("WEBP", frames, exif=images.exif_bytes(orientation=6))
    urls = upload(service.base_url, data).json()
    for name, expected in (("large", (80, 120)), ("medium", (80, 120)), ("small", (67, 100))):
        sizes, durations, _ = _played(fetch_when_ready(urls[name]).content)
        assert sizes == [expected] * 3, name
        assert durations == DURATIONS[:3]
    large = requests.get(urls["large"], timeout=10).content
    with (
        Image.open(io.BytesIO(large)) as image,
        frames[0].transpose(Image.Transpose.ROTATE_270) as upright,
    ):
        # The first frame's top-left corner is the original's bottom-left, rotated.
        assert _close(image.convert("RGB").getpixel((0, 0)), upright.getpixel((0, 0)))


def _close(a: object, b: object, tolerance: int = 40) -> bool:
    assert isinstance(a, tuple)
    assert isinstance(b, tuple)
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("frames", "size", "words"),
    [
        (MAX_FRAMES + 1, (16, 16), f"at most {MAX_FRAMES} are accepted"),
        (MAX_FRAMES, (400, 200), f"at most {MAX_ANIMATION_PIXELS:,} pixels in all"),
    ],
)
def test_an_animation_past_the_operators_bound_is_refused(
    service: Service, frames: int, size: tuple[int, int], words: str
) -> None:
    durations = [50] * frames
    # Flat frames, each of its own grey: small files whatever their pixels.
    pictures = [Image.new("L", size, 5 * n) for n in range(frames)]
    data = images.encode(
        pictures[0], "GIF", save_all=True, append_images=pictures[1:], duration=durations
    )
    response = upload(service.base_url, data)
    assert response.status_code == 400
    assert words in response.json()["error"]


def test_a_single_frame_gif_keeps_still_jpeg_thumbnails(service: Service) -> None:
    response = upload(service.base_url, images.gif(SIZE))
    urls = response.json()
    assert urls["small"].endswith("/small.jpg")
    with Image.open(io.BytesIO(fetch_when_ready(urls["small"]).content)) as small:
        assert small.format == "JPEG"
    status = wait_for_status(service.base_url, response.headers["Location"])
    assert "animated" not in status
    assert "frames" not in status


def test_a_heic_with_an_alpha_plane_is_accepted_and_thumbnailed(service: Service) -> None:
    # Nokia's alpha.heic: its primary image is an overlay of two HEVC images.
    response = upload(service.base_url, (FIXTURES / "nokia-alpha.heic").read_bytes())
    assert response.status_code == 202, response.text
    urls = response.json()
    for size in THUMBNAIL_SIZES:
        with Image.open(io.BytesIO(fetch_when_ready(urls[size.name]).content)) as thumbnail:
            assert thumbnail.size == fit((1440, 960), (size.width, size.height))
    status = wait_for_status(service.base_url, response.headers["Location"])
    assert (status["status"], status["width"], status["height"]) == ("ready", 1440, 960)
