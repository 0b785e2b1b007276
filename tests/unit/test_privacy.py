"""Stripping an original's metadata: nothing personal is left, no pixel changes."""

import io
import struct
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from PIL import ExifTags, Image, ImageSequence

from server.inspection import InvalidImage, inspect_upload
from server.privacy import strip_metadata
from server.upload_intake import accept_upload
from sharer.formats import ACCEPTED, sniff, thumbnail_format
from sharer.messages import PlannedThumbnail
from sharer.thumbnail_sizes import THUMBNAIL_SIZES
from support import hostile_images, images
from support.fakes import FakeQueue, FakeStorage
from support.mutations import is_seed, mutated_images, with_every_seed
from worker.thumbnails import make_thumbnails

SECRETS = (b"SECRET", images.COMMENT, b"SyntheticCam", hostile_images.POLYGLOT_HTML, b"<x:xmpmeta")
WITH_METADATA: dict[str, Callable[[], bytes]] = {
    "jpeg": images.jpeg_with_metadata,
    "png": images.png_with_metadata,
    "gif": images.gif_with_metadata,
    "webp": images.webp_with_metadata,
    "jpeg_polyglot": hostile_images.jpeg_html_polyglot,
}
EVERY_IMAGE = {**images.BUILDERS, **WITH_METADATA}


@cache
def _built(name: str) -> bytes:
    return EVERY_IMAGE[name]()


def _strip(data: bytes) -> bytes:
    image_format = sniff(data[:16])
    assert image_format is not None
    return strip_metadata(data, image_format)


def _frames(data: bytes) -> list[tuple[str, tuple[int, int], bytes]]:
    with Image.open(io.BytesIO(data)) as image:
        return [(f.mode, f.size, f.tobytes()) for f in ImageSequence.Iterator(image)]


@pytest.mark.parametrize("name", sorted(EVERY_IMAGE))
def test_pixels_are_untouched(name: str) -> None:
    data = _built(name)
    assert _frames(_strip(data)) == _frames(data)


@pytest.mark.parametrize("name", sorted(WITH_METADATA))
def test_no_personal_metadata_is_left(name: str) -> None:
    original = _built(name)
    assert any(secret in original for secret in SECRETS)  # the fixture does carry some
    stripped = _strip(original)
    for secret in SECRETS:
        assert secret not in stripped
    with Image.open(io.BytesIO(stripped)) as image:
        exif = image.getexif()
        assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert set(exif) <= {ExifTags.Base.Orientation}
        assert not {"comment", "xmp", "Comment", "Author", "XML:com.adobe.xmp"} & set(image.info)


@pytest.mark.parametrize("name", ["jpeg", "png", "webp"])
def test_orientation_survives_alone(name: str) -> None:
    with Image.open(io.BytesIO(_strip(_built(name)))) as image:
        assert dict(image.getexif()) == {ExifTags.Base.Orientation: 6}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_thumbnails_of_a_stripped_original_are_the_same(orientation: int) -> None:
    data = images.oriented_jpeg(orientation)
    specs = [
        PlannedThumbnail(v.name, v.width, v.height, f"k/{v.name}", thumbnail_format(False))
        for v in THUMBNAIL_SIZES
    ]
    jpeg = ACCEPTED["JPEG"]
    assert make_thumbnails(_strip(data), jpeg, specs) == make_thumbnails(data, jpeg, specs)


def test_colour_profile_and_adobe_marker_are_kept() -> None:
    icc = images.srgb_icc()
    with Image.open(io.BytesIO(_strip(images.jpeg(icc_profile=icc)))) as image:
        assert image.info["icc_profile"] == icc
    adobe = b"\xff\xee\x00\x0eAdobe"  # how CMYK and YCCK channels are to be read
    cmyk = images.jpeg(mode="CMYK")
    assert adobe in cmyk
    assert adobe in _strip(cmyk)


def test_the_jfif_thumbnail_is_dropped() -> None:
    data = images.jpeg((64, 48))
    assert data[2:4] == b"\xff\xe0"
    (length,) = struct.unpack_from(">H", data, 4)
    thumbnail = b"THUMB!"  # a 2x1 RGB thumbnail
    payload = data[6:18] + b"\x02\x01" + thumbnail
    with_thumb = data[:4] + struct.pack(">H", len(payload) + 2) + payload + data[4 + length :]
    stripped = _strip(with_thumb)
    assert thumbnail not in stripped
    assert stripped[4:20] == b"\x00\x10" + data[6:18] + b"\x00\x00"
    assert _frames(stripped) == _frames(data)


def test_a_simple_webp_and_a_bare_jpeg_are_unchanged() -> None:
    simple = images.webp()
    assert _strip(simple) == simple
    bare = images.jpeg()
    assert _strip(bare) == bare


def test_stripping_twice_changes_nothing_more() -> None:
    for name in WITH_METADATA:
        once = _strip(_built(name))
        assert _strip(once) == once


@pytest.mark.parametrize("name", ["gif", "png_rgba", "webp"])
def test_a_container_cut_short_is_refused(name: str) -> None:
    data = images.BUILDERS[name]()  # one frame: the cut falls inside it
    cut = data[: len(data) * 3 // 4]
    with pytest.raises(InvalidImage) as caught:
        _strip(cut)
    assert caught.value.reason == "undecodable"


def test_a_gif_cut_in_a_later_frame_keeps_its_whole_frames() -> None:
    # Accepted (only the first frame is thumbnailed), so its strip must not fail either.
    animation = images.gif_with_metadata(frames=3)
    cut = animation[: len(animation) - 100]
    stripped = _strip(cut)
    assert stripped.endswith(b"\x00;")
    whole = _frames(stripped)
    assert 1 <= len(whole) < 3
    assert whole[0] == _frames(animation)[0]


@pytest.mark.parametrize("strip", [False, True])
def test_accept_upload_stores_the_original_as_the_setting_says(strip: bool) -> None:
    storage, queue = FakeStorage(), FakeQueue()
    data = images.jpeg_with_metadata()
    job = accept_upload(
        data,
        storage=storage,
        queue=queue,
        max_pixels=50_000_000,
        delete_token_sha256="0" * 64,
        strip_metadata=strip,
    )
    stored = storage.objects[job.original_key].body
    assert stored == (_strip(data) if strip else data)


def _first_frame(data: bytes) -> bytes | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.tobytes()
    except (OSError, SyntaxError, ValueError, EOFError):
        return None


@pytest.mark.filterwarnings("ignore:.*:UserWarning:PIL.TiffImagePlugin")  # mutated EXIF
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_images())
@with_every_seed()
def test_stripping_whatever_inspection_accepts_keeps_its_pixels(data: bytes) -> None:
    # The seeds are valid: they must pass both steps, so refusing everything fails.
    try:
        accepted = inspect_upload(data, max_pixels=4_000_000)
    except InvalidImage:
        assert not is_seed(data), "inspection refused a valid seed"
        return
    try:
        stripped = strip_metadata(data, accepted.image_format)
    except InvalidImage:
        # A container that cannot be walked to its end: refused, and said so.
        assert not is_seed(data), "stripping refused a valid seed"
        return
    assert _strip(stripped) == stripped
    pixels = _first_frame(data)
    if is_seed(data):
        assert pixels is not None
    if pixels is not None:
        assert _first_frame(stripped) == pixels
