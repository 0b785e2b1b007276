"""The OpenAPI document at /openapi.json is true: schemathesis generates requests for
every operation from it and sends them to the real server (gunicorn and a worker);
each answer's status, content type, headers and body must be what the document says,
and none may be a server error.

The schema is built in this process (schemathesis parametrizes at collection, before any
server runs; its fixture-based loader does not work with our pytest), and a test checks
that the server serves exactly that document."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.inspection import unsupported_message
from server.openapi_route import openapi_document
from sharer.formats import ACCEPTED, ImageFormat
from sharer.settings import ServerSettings
from support import images
from support.images import jpeg
from support.services import Service, local_service

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Per operation; enough to reach every documented status of the cheap routes while the
# whole run stays within seconds.
EXAMPLES = 12


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A server and one worker on files and SQLite."""
    yield from local_service(tmp_path_factory.mktemp("api"), workers=1)


# The document for a server at SHARER_SITE_URL's default, with the default upload limit.
DOCUMENT_SITE = "http://127.0.0.1:8080"
DEFAULT_SETTINGS = ServerSettings.from_env({})
DOCUMENT = openapi_document(
    DOCUMENT_SITE, DEFAULT_SETTINGS.max_upload_bytes, DEFAULT_SETTINGS.accepted_formats
)
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_server_serves_the_document_for_its_own_url(service: Service) -> None:
    served = requests.get(f"{service.base_url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json()["servers"] == [{"url": service.base_url}]
    assert served.json() | {"servers": DOCUMENT["servers"]} == DOCUMENT


# A real file of each format the service can take, as a camera or an editor makes it.
REAL_FILES: dict[str, Callable[[], bytes]] = {
    "JPEG": images.jpeg,
    "PNG": images.png,
    "GIF": images.gif,
    "WEBP": images.webp,
    "HEIF": images.heif,
    "AVIF": images.avif,
}


def test_every_format_has_a_real_file_to_test_with() -> None:
    assert set(REAL_FILES) == set(ACCEPTED)


@pytest.mark.parametrize("accepted", DEFAULT_SETTINGS.accepted_formats, ids=lambda f: f.name)
def test_an_upload_of_every_accepted_format_is_answered_as_documented(
    service: Service, accepted: ImageFormat
) -> None:
    image_field = DOCUMENT["components"]["schemas"]["UploadForm"]["properties"]["image"]
    assert accepted.media_type in image_field["x-media-types"]
    assert accepted.media_type in image_field["description"]
    sent = REAL_FILES[accepted.name]()
    answer = requests.post(
        f"{service.base_url}/",
        files={"image": (f"photo.{accepted.extension}", sent)},
        data={"description": f"a {accepted.name} photo"},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    schema["/"]["POST"].validate_response(answer)
    status = requests.get(
        f"{service.base_url}{answer.headers['Location']}", headers={"Prefer": "wait=20"}, timeout=30
    )
    assert status.json()["status"] == "ready"
    assert status.json()["description"] == f"a {accepted.name} photo"
    schema["/images/{image_id}"]["GET"].validate_response(status)
    original = requests.get(answer.json()["original"], timeout=10)
    assert original.headers["Content-Type"] == accepted.media_type
    assert (
        accepted.media_type
        in DOCUMENT["paths"]["/media/{key}"]["get"]["responses"]["200"]["content"]
    )


@pytest.fixture(scope="module")
def heic_and_png_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server alone, with SHARER_ACCEPTED_FORMATS narrowed to HEIC and PNG."""
    yield from local_service(
        tmp_path_factory.mktemp("narrowed"), workers=0, env={"SHARER_ACCEPTED_FORMATS": "heif,png"}
    )


def test_the_document_and_the_refusal_name_the_operators_formats(
    heic_and_png_only: Service,
) -> None:
    served = requests.get(f"{heic_and_png_only.base_url}/openapi.json", timeout=10).json()
    image_field = served["components"]["schemas"]["UploadForm"]["properties"]["image"]
    assert image_field["x-media-types"] == ["image/png", "image/heic"]
    assert image_field["description"].startswith("a PNG or HEIF image of at most")
    refused = requests.post(
        f"{heic_and_png_only.base_url}/", files={"image": ("a.jpg", jpeg((64, 48)))}, timeout=10
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "This is not a PNG or HEIF image."
    narrowed = [ACCEPTED["PNG"], ACCEPTED["HEIF"]]
    narrowed_schema = schemathesis.openapi.from_dict(served)
    assert refused.json()["error"] == unsupported_message(narrowed)
    for name in ("PNG", "HEIF"):
        sent = REAL_FILES[name]()
        answer = requests.post(
            f"{heic_and_png_only.base_url}/", files={"image": ("photo", sent)}, timeout=30
        )
        assert answer.status_code == 202
        narrowed_schema["/"]["POST"].validate_response(answer)


@dataclass(frozen=True)
class KnownImage:
    """An image the server has made thumbnails for."""

    image_id: str
    small_key: str


@pytest.fixture(scope="module")
def known_image(service: Service) -> KnownImage:
    """Upload one image and wait (bounded) until it is ready."""
    accepted = requests.post(
        f"{service.base_url}/", files={"image": ("a.jpg", jpeg((200, 150)))}, timeout=10
    )
    assert accepted.status_code == 202
    image_id = str(accepted.headers["Location"]).rsplit("/", 1)[1]
    deadline = time.monotonic() + 30
    while (
        requests.get(f"{service.base_url}/images/{image_id}", timeout=10).json()["status"]
        != "ready"
    ):
        assert time.monotonic() < deadline, "the image never became ready"
        time.sleep(0.1)
    return KnownImage(image_id, f"images/{image_id}/small.jpg")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case[Any], service: Service, known_image: KnownImage
) -> None:
    # Random ids are all unknown (404); about half the examples ask for a real image
    # instead, so the documented 200s (status, share page, media) are checked too.
    parameters = case.path_parameters or {}
    if str(parameters.get("image_id", "~"))[:1] < "M":
        parameters["image_id"] = known_image.image_id
    if str(parameters.get("key", "~"))[:1] < "M":
        parameters["key"] = known_image.small_key
    case.call_and_validate(base_url=service.base_url, checks=CHECKS)
