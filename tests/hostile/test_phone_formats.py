"""HEIC/HEIF and AVIF over HTTP: stored as uploaded with their own type, thumbnailed as
JPEG (WebP with alpha), hostile variants refused, and an operator can turn them off."""

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from support import images
from support.client import fetch_when_ready, upload, wait_for_status
from support.services import Service, local_env

PHONE_IMAGES: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "heic": (images.heif, "image/heic", "JPEG"),
    "heic_alpha": (lambda: images.heif(alpha=True), "image/heic", "WEBP"),
    "heic_grid": (lambda: images.heif((640, 480), tile_size=256), "image/heic", "JPEG"),
    "heic_many_images": (images.heif_many_images, "image/heic", "JPEG"),
    "avif": (images.avif, "image/avif", "JPEG"),
    "avif_alpha": (lambda: images.avif(alpha=True), "image/avif", "WEBP"),
}


@pytest.mark.parametrize("name", sorted(PHONE_IMAGES))
def test_a_phone_format_is_stored_as_uploaded_and_thumbnailed(local: Service, name: str) -> None:
    build, media_type, thumbnail_format = PHONE_IMAGES[name]
    data = build()
    response = upload(local.base_url, data, filename="IMG_0001.HEIC")
    assert response.status_code == 202, response.text
    urls = response.json()
    original = requests.get(urls["original"], timeout=10)
    assert original.content == data
    assert original.headers["Content-Type"] == media_type
    status = wait_for_status(local.base_url, response.headers["Location"])
    assert status["status"] == "ready"
    small = fetch_when_ready(urls["small"])
    with Image.open(io.BytesIO(small.content)) as thumbnail:
        assert thumbnail.format == thumbnail_format


@pytest.fixture(scope="module")
def jpeg_and_png_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server alone, with SHARER_ACCEPTED_FORMATS limited to JPEG and PNG."""
    workdir: Path = tmp_path_factory.mktemp("jpeg-and-png")
    env = local_env(workdir) | {"SHARER_ACCEPTED_FORMATS": "jpeg,png"}
    with Service(env, workdir).running() as service:
        yield service


@pytest.mark.parametrize("build", [images.heif, images.avif, images.webp, images.gif])
def test_an_operator_can_turn_formats_off(
    jpeg_and_png_only: Service, build: Callable[[], bytes]
) -> None:
    response = upload(jpeg_and_png_only.base_url, build())
    assert response.status_code == 400
    assert response.json()["error"] == "This is not a JPEG or PNG image."
    assert upload(jpeg_and_png_only.base_url, images.png()).status_code == 202
