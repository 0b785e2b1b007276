"""``DELETE /images/<id>``: remove an image with the token its upload was answered with.

401 (no usable ``Authorization: Bearer``) -> 404 (no such image) or 410 (deleted) ->
403 (another token; nothing is removed) -> 204 (the original, every thumbnail and the
status are gone, and on AWS the CDN has been told to forget them).
"""

from flask import Blueprint, Response, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Gone, NotFound, Unauthorized

from server.bound_backends import current_edge_cache, current_storage, current_waits
from server.public_urls import public_path_prefix, share_page_path
from server.status_route import stored_status
from sharer.delete_tokens import token_matches
from sharer.deletion import leave_tombstone, remove_image_objects, remove_status, tombstone_of

delete_blueprint = Blueprint("delete", __name__)

_REALM = "images"


@delete_blueprint.delete("/images/<image_id>")
def delete_image(image_id: str) -> Response:
    """Delete the image if the bearer token is its delete token."""
    token = _bearer_token()
    storage = current_storage()
    status = stored_status(image_id)
    if status is None:
        tombstone = tombstone_of(storage, image_id)
        if tombstone is None:
            raise NotFound("no image with that id")
        if not tombstone.cdn_forgotten:
            # A delete whose status went before the CDN answered: finish that step.
            _forget(image_id)
        raise Gone("this image was deleted")
    digest = status.delete_token_sha256
    if digest is None or not token_matches(token, digest):
        raise Forbidden("that token does not delete this image")
    # Tombstone first (a running job then undoes its own writes), objects next, the CDN
    # after the objects (so it cannot fetch them again), the status last (so a delete
    # cut short by an outage answers 503 and can be retried with the same token).
    leave_tombstone(storage, image_id)
    remove_image_objects(storage, status)
    _forget(image_id)
    remove_status(storage, image_id)
    current_waits().notify(image_id)
    return Response(status=204, mimetype="application/json")


def _forget(image_id: str) -> None:
    """Tell the CDN to drop the image's objects and its share page, then record that in
    the tombstone."""
    current_edge_cache().forget([f"{public_path_prefix(image_id)}*", share_page_path(image_id)])
    leave_tombstone(current_storage(), image_id, cdn_forgotten=True)


def _bearer_token() -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or 401 saying why not."""
    header = request.headers.get("Authorization")
    if header is None:
        raise _unauthorized("send Authorization: Bearer <the Delete-Token of the upload>")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise _unauthorized(
            "the Authorization header must be 'Bearer <token>'", error="invalid_request"
        )
    return token


def _unauthorized(description: str, *, error: str | None = None) -> Unauthorized:
    parameters: dict[str, str | None] = {"realm": _REALM}
    if error is not None:
        parameters["error"] = error
    return Unauthorized(description, www_authenticate=WWWAuthenticate("Bearer", parameters))
