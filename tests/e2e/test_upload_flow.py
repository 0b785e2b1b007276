"""Upload to thumbnails over real HTTP, against gunicorn and real workers."""

import io

import requests
from PIL import ExifTags, Image

from sharer.thumbnail_sizes import THUMBNAIL_SIZES
from support import images
from support.client import BODY_KEYS, fetch_when_ready, upload, wait_for_status
from support.services import Service


def test_the_reference_client_upload_gets_all_four_images(service: Service) -> None:
    data = images.jpeg((1600, 1200), gps=True, comment=b"private note")
    response = upload(service.base_url, data)
    assert response.status_code == 202
    assert response.headers["Content-Type"] == "application/json"
    urls = response.json()
    assert list(urls) == list(BODY_KEYS)

    original = requests.get(urls["original"], timeout=10)
    assert original.status_code == 200
    assert original.headers["Content-Type"] == "image/jpeg"
    # Stored without its metadata (the default), and not re-encoded: the same pixels.
    assert b"private note" in data
    assert b"private note" not in original.content
    with Image.open(io.BytesIO(original.content)) as stored, Image.open(io.BytesIO(data)) as sent:
        assert not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert stored.tobytes() == sent.tobytes()

    for size in THUMBNAIL_SIZES:
        thumb = fetch_when_ready(urls[size.name])
        assert thumb.status_code == 200, size.name
        assert thumb.headers["Content-Type"] == "image/jpeg"
        with Image.open(io.BytesIO(thumb.content)) as image:
            assert image.format == "JPEG"
            assert image.size == (size.width, size.width * 3 // 4)
            assert not image.getexif()
            assert "comment" not in image.info
    status = wait_for_status(service.base_url, response.headers["Location"])
    assert status["status"] == "ready"
    assert status["urls"] == urls


def test_transparent_png_gets_webp_thumbnails_with_alpha(service: Service) -> None:
    response = upload(service.base_url, images.png((500, 1000), mode="RGBA"), filename="a.png")
    assert response.status_code == 202
    small = fetch_when_ready(response.json()["small"])
    assert small.status_code == 200
    assert small.headers["Content-Type"] == "image/webp"
    with Image.open(io.BytesIO(small.content)) as image:
        assert image.size == (50, 100)
        assert image.mode == "RGBA"


def test_an_image_smaller_than_the_boxes_is_never_upscaled(service: Service) -> None:
    response = upload(service.base_url, images.tiny())
    urls = response.json()
    with Image.open(io.BytesIO(requests.get(urls["original"], timeout=10).content)) as original:
        size = original.size
    for thumbnail_size in THUMBNAIL_SIZES:
        with Image.open(io.BytesIO(fetch_when_ready(urls[thumbnail_size.name]).content)) as thumb:
            assert thumb.size == size


def test_images_are_served_immutable_with_validators(service: Service) -> None:
    urls = upload(service.base_url, images.jpeg((320, 240))).json()
    first = requests.get(urls["original"], timeout=10)
    assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    etag = first.headers["ETag"]
    again = requests.get(urls["original"], headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304
    if service.env.get("SHARER_STORAGE_URL", "").startswith("s3://"):
        return  # on AWS, CloudFront's response headers policy adds nosniff (tests/infra)
    assert first.headers["X-Content-Type-Options"] == "nosniff"


def test_a_status_get_that_prefers_to_wait_answers_once_ready(service: Service) -> None:
    # On AWS nothing wakes the wait: it re-reads the status now and then.
    response = upload(service.base_url, images.jpeg((1200, 900), seed=5))
    held = requests.get(
        f"{service.base_url}{response.headers['Location']}",
        headers={"Prefer": "wait=10"},
        timeout=30,
    )
    assert held.headers["Preference-Applied"] == "wait=10"
    assert held.json()["status"] == "ready"
