"""``GET /images/<id>``: where an image is (pending, ready, failed) and its URLs.

An image given a description has it as ``description``. A ready image also has its
upright ``width`` and ``height``, each thumbnail's size and a ThumbHash placeholder (of the
first frame, for an animation); an animated one says ``"animated": true`` and its
thumbnails' ``frames``; one uploaded with ``expires_in`` has its ``expires_at``. A deleted
image answers 410 for as long as its tombstone is kept, an expired one 410 with
``"status": "expired"``. With ``Prefer: wait=<seconds>`` a pending image's answer waits
until it is ready, failed or deleted, or the wait is over (``server.pending_waits``).
"""

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import Gone, NotFound

from server.bound_backends import current_settings, current_storage, current_waits
from server.errors import ERROR_CACHE_CONTROL
from sharer.deletion import Ending, tombstone_of
from sharer.ids import is_image_id
from sharer.key_scheme import status_key
from sharer.status import ImageState, ImageStatus, decode_status
from sharer.status_documents import status_document as document_of
from sharer.storage import ObjectNotFound

status_blueprint = Blueprint("status", __name__)


class ImageExpired(Gone):
    """The image reached its ``expires_at`` and was removed."""

    description = "this image expired"


class ImageTakenDown(Gone):
    """The site's operator took the image down (``sharer-admin takedown``)."""

    description = "this image was taken down by the site's operator"


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
    there is no such image, ``Gone`` if it was deleted (``ImageExpired`` if it expired,
    ``ImageTakenDown`` if the operator took it down).
    The share page is rendered from the same document."""
    status = stored_status(image_id)
    if status is None:
        tombstone = tombstone_of(current_storage(), image_id)
        if tombstone is None:
            raise NotFound("no image with that id")
        if tombstone.ending is Ending.EXPIRED:
            raise ImageExpired()
        if tombstone.ending is Ending.TAKEN_DOWN:
            raise ImageTakenDown()
        raise Gone("this image was deleted")
    return document_of(status, current_settings().common)


@status_blueprint.get("/images/<image_id>")
def image_status(image_id: str) -> Response:
    """The image's state, the reason if it failed, and the URL of each of its objects."""

    def look() -> tuple[dict[str, object], bool]:
        document = status_document(image_id)
        return document, document["status"] != ImageState.PENDING.value

    if not is_image_id(image_id):
        raise NotFound("no image with that id")
    try:
        response = jsonify(current_waits().settled(image_id, look))
    except ImageExpired as exc:
        # An error like any other (``server.errors``), which also says the state.
        response = jsonify(error=exc.description, id=image_id, status="expired")
        response.status_code = 410
        response.headers["Cache-Control"] = ERROR_CACHE_CONTROL
        return response
    response.headers["Cache-Control"] = "no-store"
    return response
