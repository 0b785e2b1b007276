"""The OpenAPI document says what the code defines: the sizes, formats, id shape and
limits are filled in from their definitions, never written again (tests/api checks the
document against the running server)."""

import re

from server.idempotent_uploads import MAX_IDEMPOTENCY_KEY_LENGTH
from server.openapi_route import openapi_document
from sharer.formats import ACCEPTED
from sharer.ids import is_image_id, new_image_id
from sharer.settings import LONGEST_EXPIRES_SECONDS, ServerSettings
from sharer.status import ImageState
from sharer.thumbnail_sizes import THUMBNAIL_SIZES
from support.client import BODY_KEYS

SETTINGS = ServerSettings.from_env({})
DOCUMENT = openapi_document(
    "http://127.0.0.1:8080", SETTINGS.max_upload_bytes, SETTINGS.accepted_formats
)
SCHEMAS = DOCUMENT["components"]["schemas"]


def test_the_202_body_is_the_contracts_and_names_every_size() -> None:
    accepted = SCHEMAS["UploadAccepted"]
    assert accepted["required"] == list(BODY_KEYS)
    assert list(accepted["properties"]) == list(BODY_KEYS)
    for size in THUMBNAIL_SIZES:
        assert f"{size.name} (fits {size.width}x{size.height})" in accepted["description"]
    assert SCHEMAS["ImageStatus"]["properties"]["urls"]["required"] == list(BODY_KEYS)
    thumbnails = SCHEMAS["ImageStatus"]["properties"]["thumbnails"]["properties"]
    assert set(thumbnails) == {size.name for size in THUMBNAIL_SIZES}


def test_every_format_the_server_takes_by_default_is_listed() -> None:
    image = SCHEMAS["UploadForm"]["properties"]["image"]
    assert image["x-media-types"] == [f.media_type for f in ACCEPTED.values()]
    assert {"image/heic", "image/avif"} <= set(image["x-media-types"])
    assert "HEIF" in image["description"]
    assert "AVIF" in image["description"]
    assert image["x-max-bytes"] == SETTINGS.max_upload_bytes


def test_the_id_pattern_is_the_shape_of_the_ids_we_issue() -> None:
    pattern = re.compile(SCHEMAS["ImageStatus"]["properties"]["id"]["pattern"])
    issued = [new_image_id() for _ in range(50)]
    assert all(pattern.search(image_id) for image_id in issued)
    for near_miss in (issued[0][:-1], issued[0] + "A", issued[0][:-1] + "/"):
        assert pattern.search(near_miss) is None
        assert not is_image_id(near_miss)
    parameter = DOCUMENT["paths"]["/images/{image_id}"]["parameters"][0]
    assert parameter["schema"]["pattern"] == pattern.pattern


def test_states_and_limits_come_from_their_definitions() -> None:
    assert SCHEMAS["ImageStatus"]["properties"]["status"]["enum"] == [s.value for s in ImageState]
    expires_in = re.compile(SCHEMAS["UploadForm"]["properties"]["expires_in"]["pattern"])
    assert expires_in.search(str(LONGEST_EXPIRES_SECONDS))
    key = DOCUMENT["paths"]["/"]["post"]["parameters"][1]
    assert key["name"] == "Idempotency-Key"
    assert f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable" in key["description"]
