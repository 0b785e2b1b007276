"""``GET /media/<key>``: serves stored images in local mode, as CloudFront would on AWS.

With ``Prefer: wait=<seconds>`` a thumbnail of a pending image is answered once it has
been made (or the image failed or was deleted, or the wait is over), rather than 404 at
once (``server.pending_waits``).
"""

from flask import Blueprint, Response, request
from werkzeug.exceptions import NotFound

from server.bound_backends import current_storage, current_waits
from server.status_route import stored_status
from sharer.ids import is_image_id
from sharer.status import ImageState
from sharer.storage import ObjectNotFound, StoredObject

media_blueprint = Blueprint("media", __name__)


@media_blueprint.get("/media/<path:key>")
def media(key: str) -> Response:
    """The object at ``key`` with immutable caching; 404 until a thumbnail exists."""
    # Only image objects are public; status records and anything else are not.
    if not key.startswith("images/"):
        raise NotFound("no such image")
    image_id = key.split("/")[1]
    if is_image_id(image_id):
        stored = current_waits().settled(image_id, lambda: _look(key, image_id))
    else:
        stored = _stored(key)
    if stored is None:
        raise NotFound("no such image (a thumbnail appears once the worker has made it)")
    response = Response(stored.body, mimetype=stored.content_type)
    # Stores hand out ETags quoted, as HTTP writes them (S3 does); set_etag quotes itself.
    response.set_etag(stored.etag.strip('"'))
    # The header the object was stored with, as S3 hands it to CloudFront on AWS.
    response.headers["Cache-Control"] = stored.cache_control or "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.make_conditional(request)
    return response


def _look(key: str, image_id: str) -> tuple[StoredObject | None, bool]:
    """The object if stored; settled unless it is missing while its image is pending."""
    stored = _stored(key)
    if stored is not None:
        return stored, True
    status = stored_status(image_id)
    if status is not None and status.state is ImageState.PENDING:
        return None, False
    # The worker stores the thumbnails before the status: look once more after it.
    return _stored(key), True


def _stored(key: str) -> StoredObject | None:
    try:
        return current_storage().get(key)
    except (ObjectNotFound, ValueError):
        # ValueError: a key the store refuses to map (e.g. one that escapes its root).
        return None
