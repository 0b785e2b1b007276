"""Upload inspection: what is accepted, what is refused and why, without decoding bombs."""

import io
import warnings
from collections.abc import Callable

import pytest
from PIL import Image, ImageFile

from server.inspection import AnimationLimits, InvalidImage, UploadedImage, inspect_upload
from sharer.formats import GIF, JPEG, PNG, WEBP, Animation, ImageFormat
from sharer.messages import PlannedThumbnail
from support import hostile_images, images
from worker.thumbnails import ThumbnailError, make_thumbnails

CAP = 50_000_000


def inspect(data: bytes, max_pixels: int = CAP) -> UploadedImage:
    return inspect_upload(data, max_pixels=max_pixels)


def _described(image: UploadedImage) -> tuple[ImageFormat, int, int, bool]:
    return image.image_format, image.width, image.height, image.has_alpha


def refusal(data: bytes, max_pixels: int = CAP) -> InvalidImage:
    with pytest.raises(InvalidImage) as caught:
        inspect(data, max_pixels)
    return caught.value


@pytest.fixture
def no_pillow_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if inspection hands the bytes to a Pillow plugin at all.

    ``pytest.fail`` raises a ``BaseException``, which inspection cannot mistake for a
    decoding error and turn into a refusal.
    """

    def opened(*_: object) -> None:
        pytest.fail("Pillow opened a file that its header alone should have refused")

    monkeypatch.setattr("server.inspection.open_image", opened)


@pytest.fixture
def no_pillow_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if Pillow decodes the pixels (a full decode is what bounded-memory
    checks avoid)."""

    def loaded(*_: object) -> None:
        pytest.fail("Pillow decoded the whole image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", loaded)


@pytest.mark.parametrize(
    ("build", "image_format", "has_alpha"),
    [
        (images.jpeg, JPEG, False),
        (lambda: images.jpeg(progressive=True), JPEG, False),
        (lambda: images.jpeg(mode="L"), JPEG, False),
        (lambda: images.jpeg(mode="CMYK"), JPEG, False),
        (lambda: images.png(mode="RGB"), PNG, False),
        (lambda: images.png(mode="L"), PNG, False),
        (images.png, PNG, True),
        (lambda: images.png(mode="LA"), PNG, True),
        (images.palette_png, PNG, True),
        (images.png16, PNG, False),
        (lambda: images.png16(channels="L"), PNG, False),
        (lambda: images.png16(channels="RGBA"), PNG, True),
        (lambda: images.interlaced_png((320, 240)), PNG, False),
        (images.gif, GIF, False),
        (lambda: images.gif(transparent=True), GIF, True),
        (lambda: images.gif(frames=3), GIF, False),
        (images.webp, WEBP, False),
        (lambda: images.webp(alpha=True), WEBP, True),
        (lambda: images.webp(lossless=True), WEBP, False),
    ],
)
def test_accepts_each_allowed_kind(
    build: Callable[[], bytes], image_format: ImageFormat, has_alpha: bool
) -> None:
    assert _described(inspect(build())) == (image_format, 320, 240, has_alpha)


def test_reports_dimensions_as_stored_before_exif_orientation() -> None:
    uploaded = inspect(images.oriented_jpeg(6, (320, 240)))
    assert (uploaded.width, uploaded.height) == (240, 320)


@pytest.mark.parametrize(
    ("build", "has_alpha"),
    [
        (lambda: images.png(mode="RGB", transparency=(0, 0, 0)), True),
        (lambda: images.png(mode="L", transparency=0), True),
        # A palette whose tRNS entries are all opaque has no transparency at all.
        (
            lambda: images.encode(
                images.photo_image().quantize(16), "PNG", transparency=b"\xff" * 16
            ),
            False,
        ),
    ],
)
def test_alpha_means_real_transparency(build: Callable[[], bytes], has_alpha: bool) -> None:
    assert inspect(build()).has_alpha is has_alpha


def test_refuses_empty_upload() -> None:
    refused = refusal(b"")
    assert refused.reason == "empty"
    assert "empty" in str(refused)


@pytest.mark.parametrize(("name", "data"), sorted(hostile_images.not_allowed().items()))
def test_refuses_formats_outside_the_allow_list(name: str, data: bytes) -> None:
    refused = refusal(data)
    assert refused.reason == "unsupported_format", name
    assert all(word in str(refused) for word in ("JPEG", "PNG", "GIF", "WebP"))


def test_sniffs_bytes_not_names() -> None:
    # A PNG signature followed by HTML is refused as undecodable, never served as HTML.
    assert refusal(b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script>").reason == "undecodable"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(hostile_images.truncated(images.jpeg()), id="jpeg-half"),
        pytest.param(hostile_images.truncated(images.jpeg(), 0.95), id="jpeg-95%"),
        pytest.param(images.jpeg()[:-2], id="jpeg-no-end-marker"),
        pytest.param(
            hostile_images.truncated(images.jpeg(progressive=True), 0.8), id="progressive"
        ),
        pytest.param(hostile_images.truncated(images.jpeg(mode="CMYK"), 0.8), id="cmyk"),
        pytest.param(images.jpeg()[:150], id="jpeg-header-only"),
        pytest.param(hostile_images.truncated(images.png()), id="png-half"),
        pytest.param(hostile_images.truncated(images.png(), 0.99), id="png-99%"),
        pytest.param(
            hostile_images.truncated(images.interlaced_png((320, 240)), 0.9), id="png-adam7"
        ),
        pytest.param(images.png()[:30], id="png-header-only"),
        pytest.param(hostile_images.truncated(images.gif()), id="gif-half"),
        pytest.param(hostile_images.truncated(images.webp()), id="webp-half"),
        pytest.param(hostile_images.truncated(images.webp(alpha=True), 0.9), id="webp-alpha"),
    ],
)
def test_refuses_truncated_images(data: bytes) -> None:
    refused = refusal(data)
    assert refused.reason == "undecodable"
    assert "damaged or incomplete" in str(refused)


@pytest.mark.parametrize(
    "build",
    [
        images.jpeg,
        lambda: images.jpeg(progressive=True),
        images.png,
        lambda: images.interlaced_png((320, 240)),
        images.gif,
        images.webp,
    ],
)
def test_refuses_corrupt_images(build: Callable[[], bytes]) -> None:
    assert refusal(hostile_images.corrupt(build())).reason == "undecodable"


def test_refuses_png_rows_with_unknown_filter_types() -> None:
    import zlib

    rows = b"".join(b"\x07" + bytes(3 * 8) for _ in range(8))
    data = images.png_chunks((8, 8), 2, 8, zlib.compress(rows))
    assert refusal(data).reason == "undecodable"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(hostile_images.apng_inconsistent("sequence"), id="apng-sequence-error"),
        pytest.param(hostile_images.apng_inconsistent("outside"), id="apng-frame-outside"),
        pytest.param(hostile_images.png_last_chunk_cut(), id="png-last-chunk-cut"),
    ],
)
def test_refuses_what_the_worker_could_not_decode(data: bytes) -> None:
    # Each decodes its pixels, then fails in Pillow's pass over the chunks after them.
    assert refusal(data).reason == "undecodable"
    with pytest.raises(ThumbnailError):
        make_thumbnails(data, PNG, [PlannedThumbnail("small", 10, 10, "k", JPEG)])


def test_a_valid_apng_is_accepted() -> None:
    assert _described(inspect(images.apng())) == (PNG, 48, 32, False)


def test_animated_gif_is_judged_on_its_first_frame() -> None:
    animation = images.gif(frames=3)
    # Cut inside the last frame: the first one is whole, and it is all we thumbnail.
    assert inspect(animation[: len(animation) - 2000]).image_format is GIF


@pytest.mark.parametrize(
    "bomb",
    [
        pytest.param(
            hostile_images.png_bomb((30000, 30000), payload=1 << 20), id="png-30000x30000"
        ),
        pytest.param(
            hostile_images.gif_bomb((30000, 30000), payload=1 << 20), id="gif-30000x30000"
        ),
        pytest.param(hostile_images.png_bomb((10000, 10000)), id="png-100MP"),
        pytest.param(hostile_images.gif_bomb((65535, 65535)), id="gif-max"),
        pytest.param(hostile_images.gif_bomb((30000, 30000), screen=(10, 10)), id="gif-frame-only"),
    ],
)
@pytest.mark.usefixtures("no_pillow_open")
def test_refuses_bombs_from_the_header_alone(bomb: bytes) -> None:
    # The bombs' pixel data is garbage: had anything tried to decode it, the reason would
    # be "undecodable". And Pillow's own bomb check (a warning from 89 MP, an error from
    # 179 MP) is never reached: no Pillow plugin even opens the file (``no_pillow_open``;
    # Pillow's check, had it run, would also have reported "too_many_pixels").
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refused = refusal(bomb)
    assert refused.reason == "too_many_pixels"
    assert "pixels" in str(refused)


@pytest.mark.usefixtures("no_pillow_open")
def test_refuses_a_gif_frame_larger_than_its_screen() -> None:
    bomb = hostile_images.gif_bomb((400, 400), screen=(10, 10))
    assert refusal(bomb, max_pixels=10_000).reason == "too_many_pixels"


@pytest.mark.parametrize("build", [images.jpeg, images.png, images.gif])
def test_pixel_cap_is_inclusive(build: Callable[[], bytes]) -> None:
    data = build()
    assert inspect(data, max_pixels=320 * 240).width == 320
    assert refusal(data, max_pixels=320 * 240 - 1).reason == "too_many_pixels"


def test_webp_gets_a_quarter_of_the_cap() -> None:
    # Pillow's WebP decoding needs ~16 bytes per pixel where the others need 4 or less.
    data = images.webp()
    assert inspect(data, max_pixels=4 * 320 * 240).width == 320
    refused = refusal(data, max_pixels=4 * 320 * 240 - 4)
    assert refused.reason == "too_many_pixels"
    assert "WEBP" in str(refused)


def test_a_jpeg_is_proven_at_an_eighth_of_a_few_rows_without_its_pixel_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # libjpeg decodes the skeleton (markers only, the frame cut to 8 rows) at 1/8 scale,
    # luma only.
    decoded: list[tuple[str, tuple[int, int], int]] = []
    load = ImageFile.ImageFile.load

    def recording(image: ImageFile.ImageFile) -> object:
        assert isinstance(image.fp, io.BytesIO)
        decoded.append((image.mode, image.size, len(image.fp.getbuffer())))
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording)
    data = images.jpeg((1600, 1200))
    assert _described(inspect(data)) == (JPEG, 1600, 1200, False)
    [(mode, size, decoded_bytes)] = decoded
    assert (mode, size) == ("L", (200, 1))
    assert decoded_bytes < len(data) // 50


@pytest.mark.usefixtures("no_pillow_decode")
def test_accepts_a_huge_solid_png_within_the_cap() -> None:
    # 12 MP of one colour: a few tens of KB that inflate to 36 MB, streamed, not stored
    # (Pillow's load, which would hold all 36 MB, is never called).
    data = images.solid_png((4000, 3000))
    assert _described(inspect(data)) == (PNG, 4000, 3000, False)


def test_refuses_a_cap_above_pillows_bomb_limit() -> None:
    assert Image.MAX_IMAGE_PIXELS is not None
    with pytest.raises(ValueError, match="bomb limit"):
        inspect(images.jpeg(), max_pixels=Image.MAX_IMAGE_PIXELS + 1)


def test_refuses_to_run_if_pillow_may_load_truncated_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        inspect(hostile_images.truncated(images.jpeg()))


def _with_frame_height(data: bytes, height: int) -> bytes:
    at = data.index(b"\xff\xc0")
    return data[: at + 5] + height.to_bytes(2, "big") + data[at + 7 :]


@pytest.mark.parametrize(("height", "decodes"), [(65500, True), (65501, False)])
def test_a_jpeg_taller_than_libjpeg_allows_is_refused_though_the_proof_is_short(
    height: int, decodes: bool
) -> None:
    # The proof decodes a few rows only, so libjpeg's own bound on the height (which
    # the worker's full decode hits) is checked by the walk.
    data = _with_frame_height(images.jpeg((4, 8)), height)
    worker = Image.open(io.BytesIO(data), formats=["JPEG"])
    worker.draft("L", (1, height // 8))
    if decodes:
        worker.load()
        assert _described(inspect(data, max_pixels=4 * 65500)) == (JPEG, 4, height, False)
    else:
        with pytest.raises(OSError, match="broken data stream"):
            worker.load()
        with pytest.raises(InvalidImage) as refused:
            inspect(data, max_pixels=4 * 65501)
        assert refused.value.reason == "undecodable"


@pytest.mark.parametrize(
    ("fmt", "options", "plays"),
    [
        ("GIF", {}, 1),  # no looping extension: plays once
        ("GIF", {"loop": 0}, 0),
        ("GIF", {"loop": 4}, 5),  # a GIF's count N plays N + 1 times
        ("PNG", {"loop": 3}, 3),
        ("WEBP", {"loop": 7}, 7),
    ],
)
def test_an_animation_is_counted_from_its_container(
    fmt: str, options: dict[str, int], plays: int
) -> None:
    frames = [images.photo_image((40, 30), seed=seed) for seed in range(4)]
    data = images.encode(
        frames[0], fmt, save_all=True, append_images=frames[1:], duration=50, **options
    )
    assert inspect(data).animation == Animation(frames=4, plays=plays)


def test_the_bounds_on_animations_are_frames_and_frames_times_pixels() -> None:
    data = images.gif((40, 30), frames=4)
    accepted = inspect_upload(data, max_pixels=10**6, animation_limits=AnimationLimits(4, 4800))
    assert accepted.animation is not None
    for limits, words in (
        (AnimationLimits(3, 10**6), "4 frames"),
        (AnimationLimits(4, 4799), "at most 4,799 pixels"),
    ):
        with pytest.raises(InvalidImage, match=words) as refused:
            inspect_upload(data, max_pixels=10**6, animation_limits=limits)
        assert refused.value.reason == "too_many_frames"
