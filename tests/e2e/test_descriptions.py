"""The optional ``description`` field of ``POST /`` over real HTTP, on both backend pairs:
stored with the image (the worker's ready status keeps it), returned by the status
resource, used as the share page's alt text and OpenGraph description; refused with 400
when it breaks its rules; bound to an ``Idempotency-Key`` like the image is."""

import uuid
from html.parser import HTMLParser

import pytest
import requests

from sharer.descriptions import MAX_DESCRIPTION_CHARACTERS
from support import images
from support.client import BODY_KEYS
from support.services import Service

MIB = 1024 * 1024
# What a browser sends from a textarea: CR LF line breaks, a tab, text that needs escaping
# in HTML, and characters outside ASCII (one of them outside the BMP).
SENT = '  A red kite over the hill\r\nat dusk\t(photo <b>&</b> "mine") \U0001fa81 é\r\n'
STORED = 'A red kite over the hill\nat dusk\t(photo <b>&</b> "mine") \U0001fa81 é'


def _post(
    service: Service, image: bytes, description: str | bytes | None, **headers: str
) -> requests.Response:
    fields: list[tuple[str, tuple[str | None, bytes | str, str]]] = [
        ("image", ("photo.jpg", image, "application/octet-stream"))
    ]
    if description is not None:
        fields.append(("description", (None, description, "text/plain; charset=utf-8")))
    return requests.post(f"{service.base_url}/", files=fields, headers=headers, timeout=30)


def _ready_status(service: Service, location: str) -> dict[str, object]:
    """The status once the worker is done (the server holds the answer until then)."""
    status: dict[str, object] = requests.get(
        f"{service.base_url}{location}", headers={"Prefer": "wait=20"}, timeout=30
    ).json()
    assert status["status"] == "ready", status
    return status


class _ShareTags(HTMLParser):
    """The meta tags (by property or name) and the image's alt text of a share page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.alts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "meta" and found.get("content") is not None:
            self.meta[str(found.get("property") or found.get("name"))] = str(found["content"])
        if tag == "img":
            self.alts.append(str(found.get("alt")))


def _share_tags(service: Service, image_id: str) -> _ShareTags:
    page = requests.get(f"{service.base_url}/i/{image_id}", timeout=10)
    assert page.status_code == 200
    tags = _ShareTags()
    tags.feed(page.text)
    return tags


def test_a_description_is_stored_returned_and_shown_on_the_share_page(service: Service) -> None:
    accepted = _post(service, images.jpeg((320, 240), seed=21), SENT)

    assert accepted.status_code == 202
    assert tuple(accepted.json()) == BODY_KEYS  # the contract's body, nothing added
    location = accepted.headers["Location"]
    pending = requests.get(f"{service.base_url}{location}", timeout=10).json()
    ready = _ready_status(service, location)
    # Kept through the worker's own status record, which replaces the server's.
    assert ready["description"] == STORED
    if pending["status"] == "pending":
        assert pending["description"] == STORED
    tags = _share_tags(service, str(ready["id"]))
    assert tags.meta["og:description"] == STORED
    assert tags.meta["og:image:alt"] == STORED
    assert tags.meta["twitter:image:alt"] == STORED
    assert tags.alts == [STORED]


def test_without_a_description_the_status_has_none_and_the_page_its_default(
    service: Service,
) -> None:
    for blank in (None, " \r\n\t "):
        accepted = _post(service, images.png((64, 48), seed=22), blank)
        assert accepted.status_code == 202
        ready = _ready_status(service, accepted.headers["Location"])
        assert "description" not in ready
        tags = _share_tags(service, str(ready["id"]))
        assert "og:description" not in tags.meta
        assert tags.meta["og:image:alt"] == "A shared image"
        assert tags.alts == ["The shared image; opens the original"]


def test_the_longest_description_fits_beside_the_largest_image(service: Service) -> None:
    # Four UTF-8 bytes each: the form's allowance must hold it next to 1 MiB of image.
    longest = "\U0001f600" * MAX_DESCRIPTION_CHARACTERS
    accepted = _post(service, images.jpeg_of_exact_size(MIB), longest)
    assert accepted.status_code == 202, accepted.text
    status = requests.get(f"{service.base_url}{accepted.headers['Location']}", timeout=10)
    assert status.json()["description"] == longest


@pytest.mark.parametrize(
    ("description", "words"),
    [
        ("a bell\x07", "control character (U+0007 at character 7)"),
        ("form\x0cfeed", "control character (U+000C at character 5)"),
        ("next line\x85", "control character (U+0085 at character 10)"),
        ("x" * (MAX_DESCRIPTION_CHARACTERS + 1), "1,501 characters; at most 1,500"),
        (b"caf\xe9", "must be UTF-8 text"),
    ],
    ids=["bell", "form-feed", "c1-next-line", "too-long", "latin-1"],
)
def test_a_description_that_breaks_its_rules_is_400_with_a_clear_message(
    service: Service, description: str | bytes, words: str
) -> None:
    response = _post(service, images.jpeg((64, 48)), description)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert words in response.json()["error"]


def test_a_description_sent_twice_or_as_a_file_is_400(service: Service) -> None:
    photo = ("photo.jpg", images.jpeg((64, 48)), "application/octet-stream")
    twice = requests.post(
        f"{service.base_url}/",
        files=[("image", photo), ("description", (None, "a")), ("description", (None, "b"))],
        timeout=30,
    )
    as_file = requests.post(
        f"{service.base_url}/",
        files=[("image", photo), ("description", ("alt.txt", b"a kite", "text/plain"))],
        timeout=30,
    )
    assert (twice.status_code, as_file.status_code) == (400, 400)
    assert twice.json()["error"] == "send at most one 'description' field, not 2"
    assert as_file.json()["error"] == "send 'description' as a text field, not a file"


def test_an_idempotency_key_is_bound_to_the_description_as_to_the_image(
    service: Service,
) -> None:
    photo = images.jpeg((200, 150), seed=23)
    key = {"Idempotency-Key": f'"{uuid.uuid4()}"'}
    first = _post(service, photo, "a kite\r\nat dusk", **key)
    # The same description as a browser or a script may send it: the same request.
    same = _post(service, photo, "a kite\nat dusk", **key)
    other = _post(service, photo, "a kite at dawn", **key)
    none = _post(service, photo, None, **key)

    assert (first.status_code, same.status_code) == (202, 202)
    assert same.headers["Location"] == first.headers["Location"]
    assert (other.status_code, none.status_code) == (422, 422)
    assert "another image or description" in other.json()["error"]
    # And an image first sent without a description keeps its key to that.
    bare_key = {"Idempotency-Key": f'"{uuid.uuid4()}"'}
    assert _post(service, photo, None, **bare_key).status_code == 202
    assert _post(service, photo, "now described", **bare_key).status_code == 422
