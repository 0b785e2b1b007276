"""AVIF and WebP variants of JPEG thumbnails: made by the worker, removed by a delete,
and served from the thumbnail's own URL by the Accept header of real clients."""

import io

import pytest
from flask.testing import FlaskClient
from PIL import Image

from sharer.deletion import remove_image_objects
from sharer.formats import AVIF, JPEG, PNG, WEBP, ImageFormat
from sharer.ids import new_image_id
from sharer.key_scheme import variant_key
from sharer.messages import ThumbnailJob, encode_job, job_for_upload
from sharer.status import status_for_job
from sharer.thumbnail_sizes import THUMBNAIL_NAMES
from sharer.thumbnail_variants import VARIANT_SIZES, negotiable_size, variants_of
from support import accept_headers, images
from support.fakes import FakeQueue, FakeStorage
from worker.processing import JobProcessor


def _processed(
    storage: FakeStorage, queue: FakeQueue, original: bytes, image_format: ImageFormat
) -> ThumbnailJob:
    job = job_for_upload(new_image_id(), image_format, has_alpha=image_format is PNG)
    storage.put(job.original_key, original, image_format.media_type)
    queue.send(encode_job(job))
    (delivery,) = queue.receive(1, 0)
    JobProcessor(storage, queue, max_receives=3).handle(delivery)
    return job


@pytest.fixture(params=["as built", "WebP too"])
def policy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The variant policy as built, and one that makes WebP at every size too (a size
    named in ``VARIANT_SIZES`` is all it takes), for the WebP rules of negotiation."""
    if request.param == "WebP too":
        monkeypatch.setitem(VARIANT_SIZES, WEBP.name, frozenset(THUMBNAIL_NAMES))
    return str(request.param)


@pytest.fixture
def jpeg_job(storage: FakeStorage, queue: FakeQueue, policy: str) -> ThumbnailJob:
    return _processed(storage, queue, images.jpeg((1200, 800), seed=3), JPEG)


def test_each_jpeg_thumbnail_has_its_variants_at_the_same_size(
    storage: FakeStorage, jpeg_job: ThumbnailJob
) -> None:
    made = 0
    for spec in jpeg_job.thumbnails:
        with Image.open(io.BytesIO(storage.get(spec.key).body)) as contract:
            size = contract.size
        for image_format in variants_of(JPEG, spec.name):
            stored = storage.get(variant_key(spec.key, image_format))
            assert stored.content_type == image_format.media_type
            with Image.open(io.BytesIO(stored.body), formats=(image_format.name,)) as variant:
                assert variant.size == size
                assert "exif" not in variant.info
                assert "icc_profile" not in variant.info
            made += 1
    assert made >= len(jpeg_job.thumbnails)  # AVIF at every size, at least


def test_an_alpha_thumbnail_gets_no_variant(storage: FakeStorage, queue: FakeQueue) -> None:
    job = _processed(storage, queue, images.png((400, 300), seed=8), PNG)
    for spec in job.thumbnails:
        assert spec.image_format is WEBP
        assert not storage.exists(variant_key(spec.key, AVIF))


def test_a_delete_removes_the_variants(storage: FakeStorage, jpeg_job: ThumbnailJob) -> None:
    remove_image_objects(storage, status_for_job(jpeg_job))
    assert not [key for key in storage.objects if key.startswith(f"images/{jpeg_job.image_id}/")]


def test_only_jpeg_thumbnail_keys_are_negotiable(jpeg_job: ThumbnailJob) -> None:
    assert [negotiable_size(spec.key) for spec in jpeg_job.thumbnails] == [
        spec.name for spec in jpeg_job.thumbnails
    ]
    assert negotiable_size(jpeg_job.original_key) is None
    assert negotiable_size(variant_key(jpeg_job.thumbnails[0].key, WEBP)) is None


@pytest.mark.parametrize("accept", sorted(accept_headers.NAMED_VARIANTS))
def test_each_client_gets_its_format_from_the_same_url(
    client: FlaskClient, jpeg_job: ThumbnailJob, accept: str
) -> None:
    for spec in jpeg_job.thumbnails:
        made = tuple(f.media_type for f in variants_of(JPEG, spec.name))
        wanted = accept_headers.expected_media_type(accept, made)
        response = client.get(f"/media/{spec.key}", headers={"Accept": accept})
        assert response.status_code == 200
        assert response.mimetype == wanted
        assert response.vary.as_set() == {"accept"}
        with Image.open(io.BytesIO(response.data)) as served:
            assert served.get_format_mimetype() == wanted


def test_no_accept_header_gets_exactly_the_stored_jpeg(
    client: FlaskClient, storage: FakeStorage, jpeg_job: ThumbnailJob
) -> None:
    spec = jpeg_job.thumbnails[0]
    response = client.get(f"/media/{spec.key}")
    assert response.data == storage.get(spec.key).body
    assert response.vary.as_set() == {"accept"}


def test_a_refused_avif_falls_to_webp_and_a_missing_variant_to_jpeg(
    client: FlaskClient, storage: FakeStorage, jpeg_job: ThumbnailJob
) -> None:
    spec = jpeg_job.thumbnails[0]
    refused = client.get(f"/media/{spec.key}", headers={"Accept": "image/avif;q=0,image/webp"})
    made = variants_of(JPEG, spec.name)
    assert refused.mimetype == (WEBP if WEBP in made else JPEG).media_type
    for image_format in variants_of(JPEG, spec.name):
        storage.delete(variant_key(spec.key, image_format))  # as for an image made before
    older = client.get(f"/media/{spec.key}", headers={"Accept": accept_headers.CHROMIUM})
    assert older.mimetype == "image/jpeg"
    assert older.vary.as_set() == {"accept"}


def test_a_revalidation_of_the_variant_is_not_modified(
    client: FlaskClient, jpeg_job: ThumbnailJob
) -> None:
    url = f"/media/{jpeg_job.thumbnails[0].key}"
    first = client.get(url, headers={"Accept": accept_headers.CHROMIUM})
    again = client.get(
        url, headers={"Accept": accept_headers.CHROMIUM, "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.vary.as_set() == {"accept"}
    jpeg = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert jpeg.status_code == 200
    assert jpeg.mimetype == "image/jpeg"


def test_other_objects_do_not_vary(client: FlaskClient, jpeg_job: ThumbnailJob) -> None:
    response = client.get(f"/media/{jpeg_job.original_key}", headers={"Accept": "image/avif"})
    assert response.mimetype == "image/jpeg"
    assert "Vary" not in response.headers
