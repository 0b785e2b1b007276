"""``GET /media/<key>``: serves stored images in local mode, as CloudFront would on AWS.

A thumbnail that has variants (``sharer.thumbnail_variants``) is negotiated: a request
whose ``Accept`` names AVIF gets the AVIF variant, else one naming WebP the WebP
variant, else (a plain ``curl``, ``*/*``) the contract's JPEG; every answer for such a
URL says ``Vary: Accept``. A variant not stored (an image from before variants) leaves
the contract's format to be served.

With ``Prefer: wait=<seconds>`` a thumbnail of a pending image is answered once it has
been made (or the image failed or was deleted, or the wait is over), rather than 404 at
once (``server.pending_waits``).
"""

from flask import Blueprint, Response, request
from werkzeug.exceptions import NotFound

from server.bound_backends import current_storage, current_waits
from server.image_lookups import stored_status
from sharer.ids import is_image_id
from sharer.key_scheme import variant_key
from sharer.status import ImageState
from sharer.storage import ObjectNotFound, StoredObject
from sharer.thumbnail_variants import VARIANT_SOURCE_FORMAT, negotiable_size, preferred_variant

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
    size_name = negotiable_size(key)
    if size_name is not None:
        stored = _negotiated(key, size_name, stored)
    response = Response(stored.body, mimetype=stored.content_type)
    if size_name is not None:
        response.vary.add("Accept")
    # Stores hand out ETags quoted, as HTTP writes them (S3 does); set_etag quotes itself.
    response.set_etag(stored.etag.strip('"'))
    # The header the object was stored with, as S3 hands it to CloudFront on AWS.
    response.headers["Cache-Control"] = stored.cache_control or "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.make_conditional(request)
    return response


def _negotiated(key: str, size_name: str, contract: StoredObject) -> StoredObject:
    """The variant the request's Accept prefers, if stored; else the contract's object."""
    named = (value for value, quality in request.accept_mimetypes if quality > 0)
    variant = preferred_variant(VARIANT_SOURCE_FORMAT, size_name, named)
    if variant is None:
        return contract
    return _stored(variant_key(key, variant)) or contract


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
