"""``DELETE /images/<id>`` through the Flask app on fakes: who may delete, what goes."""

import io

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from sharer.delete_tokens import token_digest, token_matches
from sharer.key_scheme import pending_key, status_key, tombstone_key
from sharer.messages import decode_job
from sharer.status import decode_status
from support import images
from support.fakes import FakeEdgeCache, FakeQueue, FakeStorage


def _upload(client: FlaskClient) -> tuple[str, str]:
    """(image id, delete token) of a fresh upload."""
    response = client.post(
        "/",
        data={"image": (io.BytesIO(images.jpeg((64, 48))), "a.jpg", "application/octet-stream")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202
    image_id = response.headers["Location"].rsplit("/", 1)[1]
    return image_id, response.headers["Delete-Token"]


def _delete(client: FlaskClient, image_id: str, token: str | None) -> TestResponse:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return client.delete(f"/images/{image_id}", headers=headers)


def _image_keys(storage: FakeStorage, image_id: str) -> list[str]:
    return sorted(key for key in storage.objects if image_id in key)


def test_the_202_carries_a_long_url_safe_token_stored_only_as_its_hash(
    client: FlaskClient, storage: FakeStorage, queue: FakeQueue
) -> None:
    image_id, token = _upload(client)
    assert len(token) >= 22  # 128 bits in base64url
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    record = storage.objects[status_key(image_id)].body
    assert token.encode() not in record
    assert decode_status(record).delete_token_sha256 == token_digest(token)
    (message,) = queue.messages.values()
    assert token not in message.body
    assert decode_job(message.body).delete_token_sha256 == token_digest(token)
    assert _upload(client)[1] != token


def test_the_right_token_removes_every_object_then_the_status(
    client: FlaskClient, storage: FakeStorage, edge_cache: FakeEdgeCache
) -> None:
    image_id, token = _upload(client)
    keys = _image_keys(storage, image_id)
    assert status_key(image_id) in keys
    assert pending_key(image_id) in keys
    response = _delete(client, image_id, token)
    assert response.status_code == 204
    assert response.data == b""
    assert response.mimetype == "application/json"
    assert response.headers["X-Request-Id"]
    assert _image_keys(storage, image_id) == [tombstone_key(image_id)]
    assert edge_cache.forgotten == [f"/images/{image_id}/*", f"/i/{image_id}"]
    assert client.get(f"/images/{image_id}").status_code == 410


def test_deleting_twice_answers_410(client: FlaskClient) -> None:
    image_id, token = _upload(client)
    assert _delete(client, image_id, token).status_code == 204
    again = _delete(client, image_id, token)
    assert again.status_code == 410
    assert again.get_json() == {"error": "this image was deleted"}


@pytest.mark.parametrize("token", ["wrong", "A" * 43])
def test_a_wrong_token_is_403_and_removes_nothing(
    client: FlaskClient, storage: FakeStorage, edge_cache: FakeEdgeCache, token: str
) -> None:
    image_id, _ = _upload(client)
    before = dict(storage.objects)
    response = _delete(client, image_id, token)
    assert response.status_code == 403
    assert response.mimetype == "application/json"
    assert storage.objects == before
    assert edge_cache.forgotten == []


@pytest.mark.parametrize(
    ("authorization", "error"),
    [(None, None), ("Basic dXNlcjpwYXNz", "invalid_request"), ("Bearer", "invalid_request")],
)
def test_no_bearer_token_is_401_with_www_authenticate(
    client: FlaskClient, storage: FakeStorage, authorization: str | None, error: str | None
) -> None:
    image_id, _ = _upload(client)
    before = dict(storage.objects)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.delete(f"/images/{image_id}", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert ("error=" in challenge) == (error is not None)
    assert storage.objects == before


@pytest.mark.parametrize("image_id", ["A" * 22, "not-an-id"])
def test_an_unknown_id_is_404(client: FlaskClient, image_id: str) -> None:
    response = _delete(client, image_id, "anything")
    assert response.status_code == 404
    assert response.mimetype == "application/json"


def test_a_cdn_outage_answers_503_and_the_same_token_finishes_the_delete(
    client: FlaskClient, storage: FakeStorage, edge_cache: FakeEdgeCache
) -> None:
    image_id, token = _upload(client)
    edge_cache.failing = True
    response = _delete(client, image_id, token)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert status_key(image_id) in storage.objects  # still there: the token still works
    edge_cache.failing = False
    assert _delete(client, image_id, token).status_code == 204
    assert _image_keys(storage, image_id) == [tombstone_key(image_id)]
    assert edge_cache.forgotten == [f"/images/{image_id}/*", f"/i/{image_id}"]


def test_token_comparison_is_by_digest() -> None:
    assert token_matches("t", token_digest("t"))
    assert not token_matches("u", token_digest("t"))


def test_a_delete_whose_status_went_before_the_cdn_answered_is_finished_by_the_next(
    client: FlaskClient, storage: FakeStorage, edge_cache: FakeEdgeCache
) -> None:
    image_id, token = _upload(client)
    edge_cache.failing = True
    assert _delete(client, image_id, token).status_code == 503
    # Meanwhile the worker found the tombstone and removed the status (its undo).
    storage.delete(status_key(image_id))
    edge_cache.failing = False
    assert _delete(client, image_id, "another-token").status_code == 410
    assert edge_cache.forgotten == [f"/images/{image_id}/*", f"/i/{image_id}"]
    assert _delete(client, image_id, "another-token").status_code == 410
    assert edge_cache.forgotten == [f"/images/{image_id}/*", f"/i/{image_id}"]  # once is enough
