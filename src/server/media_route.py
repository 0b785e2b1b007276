"""``GET /media/<key>``: serves stored images in local mode, as CloudFront would on AWS."""

from flask import Blueprint, Response, request
from werkzeug.exceptions import NotFound

from server.context import current_storage
from sharer.storage import ObjectNotFound

media_blueprint = Blueprint("media", __name__)


@media_blueprint.get("/media/<path:key>")
def media(key: str) -> Response:
    """The object at ``key`` with immutable caching; 404 until a thumbnail exists."""
    # Only image objects are public; status records and anything else are not.
    if not key.startswith("images/"):
        raise NotFound("no such image")
    try:
        stored = current_storage().get(key)
    except (ObjectNotFound, ValueError) as exc:
        # ValueError: a key the store refuses to map (e.g. one that escapes its root).
        raise NotFound("no such image (a thumbnail appears once the worker has made it)") from exc
    response = Response(stored.body, mimetype=stored.content_type)
    # Stores hand out ETags quoted, as HTTP writes them (S3 does); set_etag quotes itself.
    response.set_etag(stored.etag.strip('"'))
    # The header the object was stored with, as S3 hands it to CloudFront on AWS.
    response.headers["Cache-Control"] = stored.cache_control or "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.make_conditional(request)
    return response
