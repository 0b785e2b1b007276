"""``DELETE /images/<id>``: remove an image with the token its upload was answered with.

401 (no usable ``Authorization: Bearer``) -> 404 (no such image) or 410 (deleted) ->
403 (another token; nothing is removed) -> 204 (the original, every thumbnail and the
status are gone, on AWS the CDN has been told to forget them, and ``image.deleted`` is
queued for the webhook receiver).
"""

from flask import Blueprint, Response, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Gone, NotFound, Unauthorized

from server.bound_backends import (
    current_edge_cache,
    current_events,
    current_settings,
    current_storage,
    current_waits,
)
from server.image_lookups import stored_status
from sharer.delete_tokens import token_matches
from sharer.deletion import DELETE_BEGUN, Ending, forget_at_edge, remove_image, tombstone_of
from sharer.status_documents import cdn_paths, status_document

delete_blueprint = Blueprint("delete", __name__)

_REALM = "images"


@delete_blueprint.delete("/images/<image_id>")
def delete_image(image_id: str) -> Response:
    """Delete the image if the bearer token is its delete token."""
    token = _bearer_token()
    storage = current_storage()
    settings = current_settings()
    status = stored_status(image_id)
    if status is None:
        tombstone = tombstone_of(storage, image_id)
        if tombstone is None:
            raise NotFound("no image with that id")
        if not tombstone.cdn_forgotten:
            # A delete whose status went before the CDN answered: finish that step.
            forget_at_edge(
                storage,
                current_edge_cache(),
                image_id,
                tombstone,
                cdn_paths(settings.common, image_id),
            )
        raise Gone(f"this image was {tombstone.ending.public_state}")
    digest = status.delete_token_sha256
    if digest is None or not token_matches(token, digest):
        raise Forbidden("that token does not delete this image")
    remove_image(
        storage,
        current_edge_cache(),
        current_events(),
        status,
        tombstone=DELETE_BEGUN,
        cdn_paths=cdn_paths(settings.common, image_id),
        document=status_document(status, settings.common, state=Ending.DELETED.public_state),
    )
    current_waits().notify(image_id)
    return Response(status=204, mimetype="application/json")


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
