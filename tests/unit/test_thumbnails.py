"""The thumbnailer: upright, sRGB, alpha where asked, in the box, and nothing else kept."""

import io
import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from PIL import Image, ImageStat

from sharer.formats import GIF, JPEG, PNG, WEBP, ImageFormat, sniff
from sharer.image_decoding import open_image
from sharer.messages import PlannedThumbnail
from sharer.thumbnail_sizes import ThumbnailSize
from support import hostile_images, images
from worker import thumbnails
from worker.thumbnails import ThumbnailError, make_thumbnails

Colour = tuple[int, int, int]


# The sizes these tests reason about, fixed here rather than taken from THUMBNAIL_SIZES:
# the figures below follow from them, and they test the mechanism, not the product's sizes.
SIZES = (
    ThumbnailSize("large", 600, 600),
    ThumbnailSize("medium", 300, 300),
    ThumbnailSize("small", 100, 100),
)


def specs(image_format: ImageFormat = JPEG) -> list[PlannedThumbnail]:
    return [
        PlannedThumbnail(v.name, v.width, v.height, f"images/x/{v.name}", image_format)
        for v in SIZES
    ]


def every_thumbnail(outputs: dict[str, bytes]) -> list[bytes]:
    """The outputs, once it is sure there is one per size asked for (so a loop over them
    cannot pass by running zero times)."""
    assert set(outputs) == {size.name for size in SIZES}
    return list(outputs.values())


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def rgba(image: Image.Image, point: tuple[int, int]) -> tuple[int, ...]:
    pixel = image.convert("RGBA").getpixel(point)
    assert isinstance(pixel, tuple)
    return pixel


def close(actual: object, expected: tuple[int, ...], tolerance: int = 40) -> bool:
    assert isinstance(actual, tuple)
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


def expected_size(source: tuple[int, int], box: tuple[int, int]) -> tuple[float, float]:
    """The exact (fractional) size that fits ``box`` with the aspect of ``source``."""
    scale = min(box[0] / source[0], box[1] / source[1], 1.0)
    return source[0] * scale, source[1] * scale


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_ends_upright(orientation: int) -> None:
    outputs = make_thumbnails(images.oriented_jpeg(orientation, (320, 240)), JPEG, specs())
    for spec in specs():
        thumbnail = decode(outputs[spec.name]).convert("RGB")
        width, height = thumbnail.size
        assert width > height, "landscape once upright"
        quadrants = {
            "top_left": (width // 4, height // 4),
            "top_right": (3 * width // 4, height // 4),
            "bottom_left": (width // 4, 3 * height // 4),
            "bottom_right": (3 * width // 4, 3 * height // 4),
        }
        for name, point in quadrants.items():
            assert close(thumbnail.getpixel(point), images.MARKER_COLOURS[name]), (spec, name)


@pytest.mark.parametrize("fmt", [PNG, WEBP])
def test_exif_orientation_is_applied_to_png_and_webp_too(fmt: ImageFormat) -> None:
    data = images.oriented_jpeg(6, (320, 240), fmt=fmt.name)
    large = decode(make_thumbnails(data, fmt, specs())["large"]).convert("RGB")
    assert large.size == (320, 240)
    assert close(large.getpixel((40, 30)), images.MARKER_COLOURS["top_left"])
    assert close(large.getpixel((280, 210)), images.MARKER_COLOURS["bottom_right"])


@pytest.mark.parametrize("orientation", [1, 6])
def test_a_large_webp_is_shrunk_while_decoding_and_stays_upright(
    orientation: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libwebp's scaler hands over the largest thumbnail's pixels (in the stored
    # orientation), so no resize from the full image follows. A wide box tells the
    # stored orientation from the displayed one.
    resized: list[tuple[tuple[int, int], tuple[int, int]]] = []
    real_resize = thumbnails.resize

    def spy_resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
        resized.append((image.size, size))
        return real_resize(image, size)

    monkeypatch.setattr(thumbnails, "resize", spy_resize)
    boxes = [PlannedThumbnail(n, w, h, f"images/x/{n}", JPEG) for n, w, h in [("wide", 600, 300)]]
    data = images.oriented_jpeg(orientation, (1600, 1200), fmt="WEBP")
    wide = decode(make_thumbnails(data, WEBP, boxes)["wide"]).convert("RGB")

    stored = (300, 400) if orientation == 6 else (400, 300)
    assert resized[0] == (stored, stored)
    assert wide.size == (400, 300)
    for name, point in {"top_left": (100, 75), "bottom_right": (300, 225)}.items():
        assert close(wide.getpixel(point), images.MARKER_COLOURS[name]), name


def test_cmyk_becomes_rgb_with_the_right_colours() -> None:
    # Cyan, magenta, yellow and black ink, side by side.
    inks = Image.new("CMYK", (400, 100))
    for i, ink in enumerate([(255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255)]):
        inks.paste(ink, (100 * i, 0, 100 * (i + 1), 100))
    outputs = make_thumbnails(images.jpeg(image=inks, mode="CMYK"), JPEG, specs())
    large = decode(outputs["large"])
    assert large.mode == "RGB"
    expected = [(0, 255, 255), (255, 0, 255), (255, 255, 0), (0, 0, 0)]
    for i, colour in enumerate(expected):
        assert close(large.getpixel((100 * i + 50, 50)), colour), colour


def test_non_srgb_profile_is_converted_to_srgb() -> None:
    # Under the swapped profile, stored red means sRGB green.
    red = Image.new("RGB", (200, 100), (255, 0, 0))
    data = images.jpeg(image=red, icc_profile=images.swapped_icc(), quality=95)
    for output in every_thumbnail(make_thumbnails(data, JPEG, specs())):
        assert close(decode(output).getpixel((5, 5)), (0, 255, 0), 60)


def test_profile_conversion_keeps_alpha() -> None:
    red = Image.new("RGBA", (200, 100), (255, 0, 0, 255))
    red.paste((255, 0, 0, 0), (0, 0, 100, 100))
    data = images.encode(red, "PNG", icc_profile=images.swapped_icc())
    large = decode(make_thumbnails(data, PNG, specs(WEBP))["large"])
    assert rgba(large, (20, 50))[3] == 0
    assert close(rgba(large, (180, 50)), (0, 255, 0, 255), 60)


def test_srgb_profile_leaves_colours_alone() -> None:
    red = Image.new("RGB", (200, 100), (255, 0, 0))
    data = images.jpeg(image=red, icc_profile=images.srgb_icc(), quality=95)
    large = decode(make_thumbnails(data, JPEG, specs())["large"])
    assert close(large.getpixel((5, 5)), (255, 0, 0), 20)


def test_palette_transparency_becomes_webp_alpha() -> None:
    outputs = make_thumbnails(images.palette_png(), PNG, specs(WEBP))
    for spec in specs(WEBP):
        thumbnail = decode(outputs[spec.name])
        assert thumbnail.format == "WEBP"
        assert thumbnail.mode == "RGBA"
        alpha = thumbnail.getchannel("A")
        assert alpha.getpixel((0, 0)) == 0, "transparent corner"
        assert alpha.getpixel((thumbnail.width // 2, thumbnail.height // 2)) == 255


def test_alpha_is_resampled_without_dark_fringes() -> None:
    # Transparent pixels hide black; resampling without premultiplied alpha would drag
    # that black into the white shape's soft edge.
    shape = Image.new("RGBA", (1200, 1200), (0, 0, 0, 0))
    shape.paste((255, 255, 255, 255), (301, 301, 899, 899))
    data = images.encode(shape, "PNG")
    large = decode(make_thumbnails(data, PNG, specs(WEBP))["large"])
    edge = [rgba(large, (x, 300)) for x in range(140, 160)]
    assert any(0 < px[3] < 255 for px in edge), "the edge is soft"
    assert all(min(px[:3]) > 200 for px in edge if px[3] > 16), edge


def test_alpha_image_asked_as_jpeg_is_flattened_on_white() -> None:
    large = decode(make_thumbnails(images.png(), PNG, specs(JPEG))["large"])
    assert large.mode == "RGB"
    assert close(large.getpixel((0, 0)), (255, 255, 255), 8)


@pytest.mark.parametrize("channels", ["RGB", "L"])
def test_16_bit_png_keeps_its_tones(channels: str) -> None:
    eight_bit = images.photo_image(grain=0).convert(channels)
    outputs = make_thumbnails(images.png16(channels=channels), PNG, specs(WEBP))
    large = decode(outputs["large"]).convert(channels)
    assert large.size == eight_bit.size
    for made, source in zip(
        ImageStat.Stat(large).mean, ImageStat.Stat(eight_bit).mean, strict=True
    ):
        assert abs(made - source) < 3


def test_16_bit_png_keeps_its_alpha() -> None:
    outputs = make_thumbnails(images.png16(channels="RGBA"), PNG, specs(WEBP))
    alpha = decode(outputs["large"]).getchannel("A")
    source = images.alpha_mask((320, 240))
    assert abs(ImageStat.Stat(alpha).mean[0] - ImageStat.Stat(source).mean[0]) < 3


def keyed_png(mode: str) -> bytes:
    """A PNG with a tRNS colour key, and a corner painted in that colour."""
    picture = images.photo_image().convert(mode)
    key = 0 if mode == "L" else (0, 0, 0)
    picture.paste(key, (0, 0, 80, 60))
    return images.encode(picture, "PNG", transparency=key)


@pytest.mark.parametrize(
    ("data", "alpha"),
    [
        pytest.param(images.png(mode="L"), False, id="L"),
        pytest.param(images.png(mode="LA"), True, id="LA"),
        pytest.param(keyed_png("L"), True, id="L-tRNS"),
        pytest.param(keyed_png("RGB"), True, id="RGB-tRNS"),
        pytest.param(images.encode(images.photo_image().convert("1"), "PNG"), False, id="1-bit"),
        pytest.param(images.encode(images.photo_image().quantize(64), "PNG"), False, id="P"),
        pytest.param(images.png16(channels="L"), False, id="I;16"),
    ],
)
@pytest.mark.parametrize("out", [JPEG, WEBP])
def test_every_png_mode_gives_a_thumbnail(data: bytes, alpha: bool, out: ImageFormat) -> None:
    large = decode(make_thumbnails(data, PNG, specs(out))["large"])
    assert large.size == (320, 240)
    if out is JPEG:
        assert large.mode in ("L", "RGB")
    else:
        assert large.mode == ("RGBA" if alpha else "RGB")


def test_grayscale_stays_grayscale() -> None:
    large = decode(make_thumbnails(images.jpeg(mode="L"), JPEG, specs())["large"])
    assert large.mode == "L"


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (200, 100), colour) for colour in ("red", "lime", "blue")]
    data = images.encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    for output in every_thumbnail(make_thumbnails(data, GIF, specs())):
        assert close(decode(output).getpixel((3, 3)), (255, 0, 0))


def test_tiny_image_is_not_upscaled() -> None:
    outputs = make_thumbnails(images.tiny(), JPEG, specs())
    assert {decode(o).size for o in outputs.values()} == {(50, 40)}


def marker_jpeg(size: tuple[int, int]) -> bytes:
    return images.jpeg(image=images.marker_image(size))


@pytest.mark.parametrize(
    ("build", "fmt", "size"),
    [
        pytest.param(images.panorama, JPEG, (4000, 100), id="panorama"),
        pytest.param(lambda: marker_jpeg((100, 4000)), JPEG, (100, 4000), id="tower"),
        pytest.param(lambda: images.png((5000, 4), mode="RGB"), PNG, (5000, 4), id="sliver"),
        pytest.param(lambda: images.jpeg((601, 600)), JPEG, (601, 600), id="just-over"),
        pytest.param(lambda: marker_jpeg((3000, 2000)), JPEG, (3000, 2000), id="draft-1/4"),
        pytest.param(lambda: marker_jpeg((4999, 3333)), JPEG, (4999, 3333), id="draft-1/8"),
        pytest.param(lambda: images.webp((1000, 333)), WEBP, (1000, 333), id="webp"),
        pytest.param(
            lambda: images.encode(images.marker_image((700, 500)).quantize(8), "GIF"),
            GIF,
            (700, 500),
            id="gif",
        ),
    ],
)
def test_thumbnails_fit_their_box_with_the_aspect_kept(
    build: Callable[[], bytes], fmt: ImageFormat, size: tuple[int, int]
) -> None:
    outputs = make_thumbnails(build(), fmt, specs())
    for spec in specs():
        width, height = decode(outputs[spec.name]).size
        exact_width, exact_height = expected_size(size, (spec.width, spec.height))
        assert 1 <= width <= spec.width
        assert 1 <= height <= spec.height
        assert abs(width - exact_width) <= 1
        assert abs(height - max(1.0, exact_height)) <= 1
        assert width == spec.width or height == spec.height or (width, height) == size


def test_one_shrunk_decode_then_each_size_from_the_one_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The design's cost model: one decode (at 1/4 scale here, JPEG's draft) and a
    # cascade 600 -> 300 -> 100, never a second trip back to the full image.
    opened: list[Image.Image] = []
    resized: list[tuple[tuple[int, int], tuple[int, int]]] = []
    real_resize = thumbnails.resize

    def spy_open(data: bytes, image_format: ImageFormat) -> Image.Image:
        opened.append(open_image(data, image_format))
        return opened[-1]

    def spy_resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
        resized.append((image.size, size))
        return real_resize(image, size)

    monkeypatch.setattr(thumbnails, "open_image", spy_open)
    monkeypatch.setattr(thumbnails, "resize", spy_resize)
    make_thumbnails(marker_jpeg((3000, 2000)), JPEG, specs())

    assert len(opened) == 1
    assert opened[0].size == (750, 500)
    assert resized == [((750, 500), (600, 400)), ((600, 400), (300, 200)), ((300, 200), (100, 67))]


def test_boxes_that_do_not_nest_are_each_fitted() -> None:
    boxes = [("wide", 600, 100), ("square", 300, 300), ("thumb", 50, 50)]
    wanted = [PlannedThumbnail(n, w, h, f"images/x/{n}", JPEG) for n, w, h in boxes]
    outputs = make_thumbnails(images.jpeg((1200, 900)), JPEG, wanted)
    sizes = {name: decode(data).size for name, data in outputs.items()}
    assert sizes == {"wide": (133, 100), "square": (300, 225), "thumb": (50, 38)}


def test_each_output_is_in_its_specs_format() -> None:
    mixed = [
        PlannedThumbnail("large", 600, 600, "images/x/large.jpg", JPEG),
        PlannedThumbnail("medium", 300, 300, "images/x/medium.webp", WEBP),
        PlannedThumbnail("small", 100, 100, "images/x/small.jpg", JPEG),
    ]
    outputs = make_thumbnails(images.webp(alpha=True), WEBP, mixed)
    assert {name: sniff(data) for name, data in outputs.items()} == {
        "large": JPEG,
        "medium": WEBP,
        "small": JPEG,
    }


def riff_chunks(data: bytes) -> set[bytes]:
    kinds, at = set(), 12
    while at + 8 <= len(data):
        kinds.add(data[at : at + 4])
        size = int.from_bytes(data[at + 4 : at + 8], "little")
        at += 8 + size + (size & 1)  # chunks are padded to an even length
    return kinds


@pytest.mark.parametrize("out", [JPEG, WEBP])
@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        pytest.param(
            images.jpeg(
                orientation=6,
                gps=True,
                comment=images.COMMENT,
                xmp=images.XMP,
                icc_profile=images.srgb_icc(),
            ),
            JPEG,
            id="jpeg",
        ),
        pytest.param(
            images.webp(exif=images.exif_bytes(gps=True), xmp=images.XMP), WEBP, id="webp"
        ),
        pytest.param(images.png(xmp=images.XMP), PNG, id="png"),
    ],
)
def test_no_metadata_leaves_in_a_thumbnail(data: bytes, fmt: ImageFormat, out: ImageFormat) -> None:
    for output in every_thumbnail(make_thumbnails(data, fmt, specs(out))):
        for secret in (b"Exif", b"SECRET-XMP", b"http://ns.adobe.com/xap", images.COMMENT):
            assert secret not in output
        assert b"ICC_PROFILE" not in output
        thumbnail = decode(output)
        assert not set(thumbnail.info) & {"exif", "xmp", "comment", "icc_profile"}
        assert not thumbnail.getexif()
        if out is WEBP:
            assert riff_chunks(output) <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        pytest.param(hostile_images.truncated(images.jpeg()), JPEG, id="truncated-jpeg"),
        pytest.param(hostile_images.truncated(images.png()), PNG, id="truncated-png"),
        pytest.param(hostile_images.corrupt(images.gif()), GIF, id="corrupt-gif"),
        pytest.param(hostile_images.truncated(images.webp()), WEBP, id="truncated-webp"),
        pytest.param(images.png(), JPEG, id="png-called-jpeg"),
        pytest.param(b"", GIF, id="empty"),
    ],
)
def test_undecodable_originals_raise_thumbnail_error(data: bytes, fmt: ImageFormat) -> None:
    with pytest.raises(ThumbnailError, match=fmt.name):
        make_thumbnails(data, fmt, specs())


def test_no_specs_no_work() -> None:
    assert make_thumbnails(b"not even an image", JPEG, []) == {}


def test_same_input_same_bytes() -> None:
    # Redelivered jobs overwrite thumbnails with identical objects.
    data = images.jpeg((900, 700))
    assert make_thumbnails(data, JPEG, specs()) == make_thumbnails(data, JPEG, specs())


ALLOWED_PLUGINS = {
    "AvifImagePlugin",
    "GifImagePlugin",
    "JpegImagePlugin",
    "PngImagePlugin",
    "WebPImagePlugin",
}
# Image.open imports these two itself ("preinit"); ``formats=`` keeps them from ever
# being tried, which the ThumbnailError for BMP bytes below shows.
PREINIT_PLUGINS = {"BmpImagePlugin", "PpmImagePlugin"}

_PROBE = """
import json, sys
from server.inspection import InvalidImage, inspect_upload
from sharer.formats import ACCEPTED
from worker.thumbnails import ThumbnailError, make_thumbnails
from sharer.messages import PlannedThumbnail
spec = [PlannedThumbnail("small", 100, 100, "images/x/small.jpg", ACCEPTED["JPEG"])]
outcomes = []
for data in json.loads(sys.stdin.read()):
    data = bytes.fromhex(data)
    try:
        inspect_upload(data, max_pixels=1_000_000)
        outcomes.append("accepted")
    except InvalidImage as exc:
        outcomes.append(exc.reason)
    for fmt in ACCEPTED.values():
        try:
            make_thumbnails(data, fmt, spec)
            outcomes.append("thumbnailed")
        except ThumbnailError:
            outcomes.append("refused")
plugins = sorted(m.split(".")[1] for m in sys.modules if m.endswith("ImagePlugin"))
print(json.dumps({"outcomes": outcomes, "plugins": plugins}))
"""


def test_hostile_formats_never_reach_other_pillow_plugins() -> None:
    hostile = hostile_images.not_allowed()
    payload = json.dumps([hostile[name].hex() for name in ("eps", "tiff", "psd", "bmp", "ico")])
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PATH": "", "PYTHONPATH": ":".join(sys.path)},
    )
    result = json.loads(done.stdout)
    assert set(result["outcomes"]) == {"unsupported_format", "refused"}
    assert set(result["plugins"]) <= ALLOWED_PLUGINS | PREINIT_PLUGINS
    assert not {"EpsImagePlugin", "TiffImagePlugin", "PsdImagePlugin"} & set(result["plugins"])
