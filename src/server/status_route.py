"""``GET /images/<id>``: where an image is (pending, ready, failed) and its URLs.

An image given a description has it as ``description``. A ready image also has its
upright ``width`` and ``height``, each thumbnail's size and a ThumbHash placeholder (of the
first frame, for an animation); an animated one says ``"animated": true`` and its
thumbnails' ``frames``. A deleted image answers 410 for as long as its tombstone is kept.
With ``Prefer: wait=<seconds>`` a pending image's answer waits until it is ready, failed or
deleted, or the wait is over (``server.pending_waits``).
"""

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import Gone, NotFound

from server.bound_backends import current_storage, current_waits
from server.public_urls import public_url
from sharer.deletion import is_deleted
from sharer.ids import is_image_id
from sharer.key_scheme import status_key
from sharer.status import ImageFacts, ImageState, ImageStatus, decode_status
from sharer.storage import ObjectNotFound

status_blueprint = Blueprint("status", __name__)


def stored_status(image_id: str) -> ImageStatus | None:
    """The status record of ``image_id``, or None if none is stored (never was, or
    deleted: the caller asks the tombstone which); ``NotFound`` for a malformed id."""
    if not is_image_id(image_id):
        raise NotFound("no image with that id")
    try:
        record = current_storage().get(status_key(image_id))
    except ObjectNotFound:
        return None
    return decode_status(record.body)


def status_document(image_id: str) -> dict[str, object]:
    """The public status of ``image_id`` (the JSON the route answers); ``NotFound`` if
    there is no such image, ``Gone`` if it was deleted. The share page is rendered from
    the same document."""
    status = stored_status(image_id)
    if status is None:
        if is_deleted(current_storage(), image_id):
            raise Gone("this image was deleted")
        raise NotFound("no image with that id")
    body: dict[str, object] = {
        "id": status.image_id,
        "status": status.state.value,
        "urls": {name: public_url(key) for name, key in status.keys.items()},
    }
    if status.reason is not None:
        body["reason"] = status.reason
    if status.description is not None:
        body["description"] = status.description
    if status.facts is not None:
        body |= _facts_body(status.facts)
    return body


@status_blueprint.get("/images/<image_id>")
def image_status(image_id: str) -> Response:
    """The image's state, the reason if it failed, and the URL of each of its objects."""

    def look() -> tuple[dict[str, object], bool]:
        document = status_document(image_id)
        return document, document["status"] != ImageState.PENDING.value

    if not is_image_id(image_id):
        raise NotFound("no image with that id")
    response = jsonify(current_waits().settled(image_id, look))
    response.headers["Cache-Control"] = "no-store"
    return response


def _facts_body(facts: ImageFacts) -> dict[str, object]:
    animated: dict[str, object] = (
        {"animated": True, "frames": facts.frames} if facts.frames and facts.frames > 1 else {}
    )
    return animated | {
        "width": facts.width,
        "height": facts.height,
        "thumbnails": {
            name: {"width": width, "height": height}
            for name, (width, height) in facts.thumbnail_sizes.items()
        },
        "thumbhash": facts.thumbhash,
    }
