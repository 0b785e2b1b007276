"""A valid upload through the Flask app on fakes: what is stored, queued and answered."""

import io
import json
import tempfile

import pytest
from flask.testing import FlaskClient

from sharer.key_scheme import status_key
from sharer.messages import decode_job
from sharer.status import ImageState, decode_status
from sharer.storage import IMMUTABLE_CACHE_CONTROL
from support import hostile_images, images
from support.client import BODY_KEYS
from support.fakes import FakeQueue, FakeStorage

THUMBNAIL_KEYS = BODY_KEYS[1:]


def _post(client: FlaskClient, data: bytes, **headers: str):  # type: ignore[no-untyped-def]
    # The client's real shape: octet-stream part, a filename, no Accept header.
    return client.post(
        "/",
        data={"image": (io.BytesIO(data), "4.jpg", "application/octet-stream")},
        content_type="multipart/form-data",
        headers=headers,
    )


def test_202_stores_original_records_pending_and_queues_the_job(
    client: FlaskClient, storage: FakeStorage, queue: FakeQueue
) -> None:
    data = images.jpeg((640, 480))
    response = _post(client, data)
    assert response.status_code == 202
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == list(BODY_KEYS)
    (message,) = queue.messages.values()
    job = decode_job(message.body)
    assert body["original"] == f"http://127.0.0.1:8080/media/{job.original_key}"
    assert {name: body[name] for name in THUMBNAIL_KEYS} == {
        t.name: f"http://127.0.0.1:8080/media/{t.key}" for t in job.thumbnails
    }
    stored = storage.objects[job.original_key]
    assert stored.body == data
    assert stored.content_type == "image/jpeg"
    assert stored.cache_control == IMMUTABLE_CACHE_CONTROL
    status = decode_status(storage.objects[status_key(job.image_id)].body)
    assert status.state is ImageState.PENDING
    assert response.headers["Location"] == f"/images/{job.image_id}"


def test_the_original_is_served_at_once_with_cache_headers(client: FlaskClient) -> None:
    data = images.jpeg((64, 48))
    url = _post(client, data).get_json()["original"]
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == data
    assert response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == IMMUTABLE_CACHE_CONTROL
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert client.get(_post(client, data).get_json()["small"]).status_code == 404


def test_alpha_images_get_webp_thumbnail_urls(client: FlaskClient) -> None:
    body = _post(client, images.png((64, 48), mode="RGBA")).get_json()
    assert body["original"].endswith("/original.png")
    assert all(body[name].endswith(".webp") for name in THUMBNAIL_KEYS)


def test_status_resource_follows_the_record(client: FlaskClient) -> None:
    location = _post(client, images.jpeg((64, 48))).headers["Location"]
    response = client.get(location)
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["status"] == "pending"
    assert set(doc["urls"]) == set(BODY_KEYS)


def test_public_base_url_setting_is_used_for_urls(storage: FakeStorage, queue: FakeQueue) -> None:
    from server.app import create_app
    from sharer.settings import ServerSettings

    settings = ServerSettings.from_env({"SHARER_PUBLIC_BASE_URL": "https://cdn.example.com/"})
    client = create_app(settings, storage=storage, queue=queue).test_client()
    body = _post(client, images.jpeg((64, 48))).get_json()
    assert all(url.startswith("https://cdn.example.com/images/") for url in body.values())


def test_queue_refusal_is_503_with_retry_after_and_leaves_nothing(
    client: FlaskClient, storage: FakeStorage, queue: FakeQueue
) -> None:
    queue.failing = True
    response = _post(client, images.jpeg((64, 48)))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.mimetype == "application/json"
    assert storage.objects == {}


def test_storage_refusal_is_503_and_nothing_is_queued(
    client: FlaskClient, storage: FakeStorage, queue: FakeQueue
) -> None:
    storage.fail_puts_to = {"status/"}
    response = _post(client, images.jpeg((64, 48)))
    assert response.status_code == 503
    assert storage.objects == {}
    assert queue.messages == {}


def test_a_failed_cleanup_is_logged_not_hidden(
    client: FlaskClient, storage: FakeStorage, queue: FakeQueue, caplog: object
) -> None:
    queue.failing = True
    storage.fail_deletes = True
    response = _post(client, images.jpeg((64, 48)))
    assert response.status_code == 503
    records = [r for r in caplog.records if r.getMessage() == "orphan left behind"]  # type: ignore[attr-defined]
    assert {r.key.split("/")[0] for r in records} == {"images", "status", "pending"}


def test_an_invalid_image_is_400_and_nothing_is_stored(
    client: FlaskClient, storage: FakeStorage, queue: FakeQueue
) -> None:
    response = _post(client, hostile_images.truncated(images.jpeg((64, 48))))
    assert response.status_code == 400
    assert json.loads(response.data)["error"]
    assert storage.objects == {}
    assert queue.messages == {}


def test_an_upload_near_the_limit_is_parsed_in_memory_not_spooled_to_disk(
    client: FlaskClient, storage: FakeStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Werkzeug's default spools file parts over 500 KB to a temporary file.
    def no_temporary_files(*args: object, **kwargs: object) -> None:
        pytest.fail("the upload was written to a temporary file")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_temporary_files)
    data = images.jpeg((1400, 1000), quality=97)
    assert 500 * 1024 < len(data) <= 1024 * 1024
    response = _post(client, data)
    assert response.status_code == 202
    assert [o.body for o in storage.objects.values() if o.content_type == "image/jpeg"] == [data]
