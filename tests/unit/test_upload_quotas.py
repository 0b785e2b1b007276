"""Keys and quotas of POST / through the Flask app: storage and queue are fakes, the key
store and counters the real SQLite ones in ``tmp_path``."""

import io
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from server.app import create_app
from sharer.api_keys import created_key
from sharer.backends import open_api_keys
from sharer.settings import ServerSettings
from support import images
from support.fakes import FakeEdgeCache, FakeQueue, FakeStorage

# nginx's hop is one more: the client is the second entry from the right.
BEHIND_ONE_PROXY = {"SHARER_FORWARDED_HOPS": "1"}


def quota_app(tmp_path: Path, **env: str) -> tuple[Flask, ServerSettings]:
    settings = ServerSettings.from_env({"SHARER_DATA_DIR": str(tmp_path)} | env)
    app = create_app(settings, storage=FakeStorage(), queue=FakeQueue(), edge_cache=FakeEdgeCache())
    return app, settings


def post(client: FlaskClient, forwarded_for: str = "", **headers: str) -> TestResponse:
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    return client.post(
        "/",
        data={"image": (io.BytesIO(images.jpeg((64, 48))), "4.jpg", "application/octet-stream")},
        content_type="multipart/form-data",
        headers=headers,
    )


def test_by_default_the_contract_is_as_before(tmp_path: Path) -> None:
    app, _ = quota_app(tmp_path)
    client = app.test_client()

    answers = [post(client, Authorization="Bearer not-a-key") for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 202]
    assert all("RateLimit" not in a.headers for a in answers)
    assert not (tmp_path / "quotas.sqlite3").exists()


def test_an_address_is_counted_from_the_trusted_hop_not_what_the_client_wrote(
    tmp_path: Path,
) -> None:
    app, _ = quota_app(tmp_path, SHARER_ADDRESS_UPLOADS_PER_MINUTE="1", **BEHIND_ONE_PROXY)
    client = app.test_client()

    first = post(client, "forged-1, 203.0.113.7, 10.0.0.1")
    forged = post(client, "198.51.100.1, 203.0.113.7, 10.0.0.1")
    other = post(client, "203.0.113.8, 10.0.0.1")

    assert [first.status_code, forged.status_code, other.status_code] == [202, 429, 202]
    assert forged.headers["RateLimit-Policy"] == '"uploads";q=1;w=60'
    assert forged.headers["RateLimit"].startswith('"uploads";r=0;t=')
    assert int(forged.headers["Retry-After"]) >= 1


def test_a_key_has_its_own_quotas_and_a_bad_key_is_refused(tmp_path: Path) -> None:
    app, settings = quota_app(
        tmp_path, SHARER_API_KEYS="optional", SHARER_ADDRESS_UPLOADS_PER_MINUTE="1"
    )
    key = created_key(
        open_api_keys(settings.common), "ci", uploads_per_minute=5, bytes_per_day=10**6
    )
    client = app.test_client()

    assert post(client).status_code == 202
    assert post(client).status_code == 429
    keyed = post(client, Authorization=f"Bearer {key}")
    wrong = post(client, Authorization=f"Bearer {key}x")

    assert keyed.status_code == 202
    assert keyed.headers["RateLimit-Policy"] == (
        '"uploads";q=5;w=60, "upload-bytes";q=1000000;qu="content-bytes";w=86400'
    )
    assert keyed.headers["RateLimit"].startswith('"uploads";r=4;t=')
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == "Bearer realm=uploads"


def test_a_day_of_bytes_refuses_by_the_declared_length(tmp_path: Path) -> None:
    app, _ = quota_app(tmp_path, SHARER_ADDRESS_BYTES_PER_DAY="100")
    refused = post(app.test_client())

    assert refused.status_code == 429
    assert "upload-bytes quota" in refused.get_json()["error"]
    assert refused.headers["RateLimit"].startswith('"upload-bytes";r=100;t=')


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [({"Accept": "text/html"}, b"x", 406), ({}, b"x" * 2**21, 413)],
)
def test_answers_before_the_charge_carry_the_fields_and_cost_nothing(
    tmp_path: Path, headers: dict[str, str], body: bytes, status: int
) -> None:
    app, _ = quota_app(tmp_path, SHARER_ADDRESS_UPLOADS_PER_MINUTE="1")
    client = app.test_client()

    early = client.post(
        "/", data=body, content_type="multipart/form-data; boundary=b", headers=headers
    )

    assert early.status_code == status
    assert early.headers["RateLimit"].startswith('"uploads";r=1;t=')
    assert post(client).status_code == 202


def test_a_store_that_does_not_answer_makes_uploads_503_and_other_answers_stand(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("where the store's directory should be")
    app, _ = quota_app(
        tmp_path,
        SHARER_ADDRESS_UPLOADS_PER_MINUTE="1",
        SHARER_QUOTA_STORE_URL=f"sqlite://{blocker}/quotas.sqlite3",
    )
    client = app.test_client()

    upload = post(client)
    refused = post(client, Accept="text/html")

    assert upload.status_code == 503
    assert upload.headers["Retry-After"] == "5"
    assert "RateLimit" not in upload.headers
    assert refused.status_code == 406
    assert "RateLimit" not in refused.headers


def admission(client: FlaskClient, **headers: str) -> TestResponse:
    """nginx's subrequest for an upload with ``headers`` (see server.upload_admission)."""
    return client.get(
        "/_sharer_admission",
        headers={"X-Sharer-Method": "POST", "X-Sharer-Upload-Length": "1000"} | headers,
    )


def test_the_admission_refuses_as_the_upload_would_and_charges_nothing(tmp_path: Path) -> None:
    app, _ = quota_app(tmp_path, SHARER_API_KEYS="optional", SHARER_ADDRESS_UPLOADS_PER_MINUTE="1")
    client = app.test_client()

    assert admission(client).status_code == 204
    assert admission(client).status_code == 204  # the first one charged nothing
    assert post(client).status_code == 202
    over = admission(client)
    over_by_the_app = post(client)
    bad_key = admission(client, Authorization="Bearer nope")
    bad_key_by_the_app = post(client, Authorization="Bearer nope")

    assert over.status_code == 403  # auth_request's "deny": nginx answers the 429
    assert over_by_the_app.status_code == 429
    assert json.loads(over.headers["X-Sharer-Refusal"]) == over_by_the_app.get_json()
    for name in ("RateLimit-Policy", "RateLimit", "Retry-After"):
        assert over.headers[name] == over_by_the_app.headers[name]
    assert bad_key.status_code == bad_key_by_the_app.status_code == 401
    assert json.loads(bad_key.headers["X-Sharer-Refusal"]) == bad_key_by_the_app.get_json()
    assert bad_key.headers["WWW-Authenticate"] == bad_key_by_the_app.headers["WWW-Authenticate"]
    # What the upload route answers first (405, 406) is left to it.
    assert admission(client, **{"X-Sharer-Method": "GET"}).status_code == 204
    assert admission(client, Accept="text/html").status_code == 204


def test_the_admission_of_a_day_of_bytes_reads_the_declared_length(tmp_path: Path) -> None:
    app, _ = quota_app(tmp_path, SHARER_ADDRESS_BYTES_PER_DAY="1000")
    client = app.test_client()

    assert admission(client).status_code == 204
    assert admission(client, **{"X-Sharer-Upload-Length": "1001"}).status_code == 403


def test_by_default_there_is_no_admission_route(tmp_path: Path) -> None:
    app, _ = quota_app(tmp_path)

    assert admission(app.test_client()).status_code == 404
