"""Privacy over HTTP: thumbnails never carry metadata; originals lose theirs without
losing a pixel, unless the operator turns SHARER_STRIP_ORIGINAL_METADATA off."""

import io
from collections.abc import Iterator

import pytest
import requests
from PIL import ExifTags, Image, ImageSequence

from hostile.stored import stored_in_s3
from support import images
from support.client import fetch_when_ready, upload
from support.services import Service, local_env

SECRETS = (b"SECRET", images.COMMENT, b"SyntheticCam")
WITH_METADATA = {
    "jpeg": (images.jpeg_with_metadata, "image/jpeg"),
    "png": (images.png_with_metadata, "image/png"),
    "gif": (images.gif_with_metadata, "image/gif"),
    "webp": (images.webp_with_metadata, "image/webp"),
    "heic": (images.heif_with_metadata, "image/heic"),
    "avif": (images.avif_with_metadata, "image/avif"),
}


def _frames(data: bytes) -> list[bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return [frame.tobytes() for frame in ImageSequence.Iterator(image)]


def test_thumbnails_of_a_gps_photo_carry_no_metadata(local: Service) -> None:
    data = images.jpeg_with_metadata()
    urls = upload(local.base_url, data).json()
    for name in ("small", "medium", "large"):
        thumb = fetch_when_ready(urls[name])
        assert thumb.status_code == 200
        for secret in SECRETS:
            assert secret not in thumb.content
        with Image.open(io.BytesIO(thumb.content)) as image:
            assert not image.getexif()  # no GPS, and no orientation: pixels are upright
            assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
            assert image.height > image.width  # orientation 6 was applied to a 4:3 photo
    # Anyone holding a thumbnail URL can guess the original's: by default it has no GPS.
    original = requests.get(urls["original"], timeout=10).content
    for secret in SECRETS:
        assert secret not in original
    assert _frames(original) == _frames(data)
    with Image.open(io.BytesIO(original)) as image:
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert dict(image.getexif()) == {ExifTags.Base.Orientation: 6}


@pytest.fixture(scope="module")
def keeping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server alone, with the operator's opt-out: originals kept as uploaded."""
    workdir = tmp_path_factory.mktemp("keeping")
    env = local_env(workdir) | {"SHARER_STRIP_ORIGINAL_METADATA": "false"}
    with Service(env, workdir).running() as service:
        yield service


def test_an_operator_may_keep_originals_as_uploaded(keeping: Service) -> None:
    data = images.jpeg_with_metadata()
    urls = upload(keeping.base_url, data).json()
    assert requests.get(urls["original"], timeout=10).content == data


@pytest.mark.parametrize("name", sorted(WITH_METADATA))
def test_originals_are_stored_stripped_by_default(aws_stripping: Service, name: str) -> None:
    build, media_type = WITH_METADATA[name]
    data = build()
    response = upload(aws_stripping.base_url, data)
    assert response.status_code == 202
    content_type, stored = stored_in_s3(aws_stripping, response.json()["original"])
    assert content_type == media_type
    assert any(secret in data for secret in SECRETS)
    for secret in SECRETS:
        assert secret not in stored
    assert _frames(stored) == _frames(data)  # not re-encoded: the very same pixels
    with Image.open(io.BytesIO(stored)) as image:
        exif = image.getexif()
        assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
        if name in ("heic", "avif"):  # orientation is in irot/imir: the EXIF item is empty
            assert not dict(exif)
        elif name != "gif":  # GIF has no EXIF; the others keep their orientation alone
            assert dict(exif) == {ExifTags.Base.Orientation: 6}
