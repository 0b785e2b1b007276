"""The upload contract's refusals, through the Flask app on fakes (no image needed)."""

import io

import pytest
from flask.testing import FlaskClient

from support.fakes import FakeQueue, FakeStorage


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_other_methods_are_405_with_allow_post(client: FlaskClient, method: str) -> None:
    response = client.open("/", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.mimetype == "application/json"
    if method != "HEAD":
        assert "error" in response.get_json()


def test_406_when_json_is_not_acceptable(client: FlaskClient) -> None:
    response = client.post("/", headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert response.mimetype == "application/json"


# 413 comes before any 400 in the contract, so a body that is not even a form is still 413.
@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=x", "image/jpeg"])
def test_413_from_declared_length_before_reading(client: FlaskClient, content_type: str) -> None:
    # The body is never read: the declared length alone decides.
    response = client.post(
        "/",
        input_stream=io.BytesIO(b""),
        content_type=content_type,
        environ_overrides={"CONTENT_LENGTH": str(5 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert response.mimetype == "application/json"


@pytest.mark.parametrize(
    ("data", "content_type", "complaint"),
    [
        ({}, "multipart/form-data", "no file field named 'image'"),
        ({"picture": (io.BytesIO(b"x"), "a.jpg")}, "multipart/form-data", "found fields: picture"),
        ({"image": (io.BytesIO(b""), "a.jpg")}, "multipart/form-data", "empty"),
        (
            {"image": [(io.BytesIO(b"a"), "a.jpg"), (io.BytesIO(b"b"), "b.jpg")]},
            "multipart/form-data",
            "exactly one",
        ),
        ({"image": (io.BytesIO(b"<html>hi</html>"), "a.jpg")}, "multipart/form-data", "JPEG"),
    ],
)
def test_400_says_what_is_wrong(
    client: FlaskClient, data: dict[str, object], content_type: str, complaint: str
) -> None:
    response = client.post("/", data=data, content_type=content_type)
    assert response.status_code == 400
    assert complaint in response.get_json()["error"]


def test_400_for_a_body_that_is_not_multipart(client: FlaskClient) -> None:
    response = client.post("/", data=b"\xff\xd8\xff", content_type="image/jpeg")
    assert response.status_code == 400
    assert "multipart/form-data" in response.get_json()["error"]


def test_request_id_is_echoed_or_made(client: FlaskClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"]
        == "abc-123"
    )
    made = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces {}"})
    assert made.headers["X-Request-Id"] not in ("", "bad id with spaces {}")


def test_healthz_names_the_failing_backend(
    client: FlaskClient, storage: FakeStorage, queue: FakeQueue
) -> None:
    assert client.get("/healthz").status_code == 200
    queue.failing = True
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["storage"] == "ok"
    assert response.get_json()["queue"].startswith("unavailable")


def test_unknown_image_and_path_are_json_404(client: FlaskClient) -> None:
    for path in ("/images/AAAAAAAAAAAAAAAAAAAAAA", "/images/../etc", "/nowhere"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.mimetype == "application/json"


def test_media_route_refuses_non_image_keys(client: FlaskClient, storage: FakeStorage) -> None:
    storage.put("status/x.json", b"{}", "application/json", immutable=False)
    assert client.get("/media/status/x.json").status_code == 404
