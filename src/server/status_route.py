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
from werkzeug.exceptions import NotFound

from server.bound_backends import current_waits
from server.errors import ERROR_CACHE_CONTROL
from server.image_lookups import ImageExpired, public_status
from sharer.ids import is_image_id
from sharer.status import ImageState

status_blueprint = Blueprint("status", __name__)


@status_blueprint.get("/images/<image_id>")
def image_status(image_id: str) -> Response:
    """The image's state, the reason if it failed, and the URL of each of its objects."""

    def look() -> tuple[dict[str, object], bool]:
        document = public_status(image_id)
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
