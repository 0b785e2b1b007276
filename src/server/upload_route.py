"""``POST /``: the upload endpoint, checked in the contract's order.

405 (routing) -> 406 (Accept) -> 413 (declared size, before any body is read) ->
401 and 429 (API key and quotas, when an operator turns them on: ``server.upload_quotas``;
nginx gives them before reading the body, on ``server.upload_admission``'s word) ->
400 (form and image) -> 202. Werkzeug's request stream enforces ``MAX_CONTENT_LENGTH``
while the body is read, so a chunked body without Content-Length is cut off at the same
bound; the body is then split by ``server.form_parts``.
"""

import time
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import BadRequest, NotAcceptable, RequestEntityTooLarge

from server.bound_backends import (
    current_proof_slots,
    current_queue,
    current_settings,
    current_storage,
)
from server.form_parts import FormPart, FormTooLarge, MalformedForm, split_form
from server.idempotent_uploads import (
    IDEMPOTENCY_KEY_HEADER,
    IdempotentUploads,
    parse_idempotency_key,
)
from server.inspection import AnimationLimits, InvalidImage
from server.negotiation import admits_json
from server.public_urls import image_urls
from server.upload_intake import PlannedUpload, plan_upload, store_upload
from server.upload_quotas import admit_upload
from sharer.delete_tokens import new_delete_token, token_digest
from sharer.descriptions import InvalidDescription, description_from_form
from sharer.expiry import InvalidExpiry, parse_expires_in
from sharer.idempotency_records import UploadAnswer, fingerprint
from sharer.messages import ThumbnailJob
from sharer.queues import QueueUnavailable
from sharer.storage import StorageUnavailable

upload_blueprint = Blueprint("upload", __name__)

FIELD = "image"
# The optional text field of the image's description (``sharer.descriptions``).
DESCRIPTION_FIELD = "description"
# The optional text field: seconds until the image expires (``sharer.expiry``).
EXPIRES_IN_FIELD = "expires_in"
# The header of the 202 that carries the image's delete token (the body stays the URLs).
DELETE_TOKEN_HEADER = "Delete-Token"  # noqa: S105 - a header name, not a secret


@upload_blueprint.route("/", methods=["POST"], provide_automatic_options=False)
def upload() -> tuple[Response, int]:
    """Accept one image in the multipart field ``image`` (with the optional text fields
    ``description`` and ``expires_in``); with an ``Idempotency-Key``, a retry gets the
    first answer (see ``server.idempotent_uploads``)."""
    if not admits_json(request.headers.get("Accept")):
        raise NotAcceptable("this endpoint answers application/json only")
    limit = current_settings().max_upload_bytes
    declared = request.content_length
    if declared is not None and declared > current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge(f"the image must be at most {limit} bytes")
    admit_upload()
    key = _idempotency_key()
    form = _read_form(limit)
    if key is None:
        token = new_delete_token()
        planned = _plan(form, token, None)
        store_upload(planned, storage=current_storage(), queue=current_queue())
        return _accepted(_answer(planned.job), token)
    return _idempotent_upload(key, form)


@dataclass(frozen=True)
class UploadForm:
    """What the form carries: the image's bytes, its description (normalized) and when
    it expires (Unix seconds; None: never)."""

    image: bytes
    description: str | None
    expires_at: int | None


def _idempotent_upload(key: str, form: UploadForm) -> tuple[Response, int]:
    settings = current_settings()
    uploads = IdempotentUploads(
        current_storage(),
        takeover_seconds=settings.idempotency_takeover_seconds,
        request_timeout=settings.request_timeout,
    )
    # A retry with another description is another request, as one with another image is.
    image_fingerprint = fingerprint(form.image, form.description)
    step = uploads.begin(key, image_fingerprint)
    if isinstance(step, UploadAnswer):
        return _accepted(step, None)
    token = new_delete_token()
    planned = _plan(form, token, step.image_id)
    claimed = uploads.claim(
        key, image_fingerprint, step, planned.job.image_id, _answer(planned.job)
    )
    if isinstance(claimed, UploadAnswer):
        return _accepted(claimed, None)
    try:
        store_upload(planned, storage=current_storage(), queue=current_queue())
    except (StorageUnavailable, QueueUnavailable):
        uploads.release(key, planned.job.image_id)
        raise
    uploads.finish(key, claimed)
    return _accepted(claimed.answer, token)


def _plan(form: UploadForm, token: str, image_id: str | None) -> PlannedUpload:
    settings = current_settings()
    try:
        return plan_upload(
            form.image,
            max_pixels=settings.max_pixels,
            delete_token_sha256=token_digest(token),
            strip_metadata=settings.strip_original_metadata,
            accepted_formats=settings.accepted_formats,
            image_id=image_id,
            costly_proof_slot=current_proof_slots().held,
            animation_limits=AnimationLimits(
                settings.max_animation_frames, settings.max_animation_pixels
            ),
            description=form.description,
            expires_at=form.expires_at,
        )
    except InvalidImage as exc:
        raise BadRequest(str(exc)) from exc


def _answer(job: ThumbnailJob) -> UploadAnswer:
    return UploadAnswer(image_urls(job), url_for("status.image_status", image_id=job.image_id))


def _accepted(answer: UploadAnswer, token: str | None) -> tuple[Response, int]:
    """The 202; a replay has no token to give (only its digest is kept)."""
    response = jsonify(answer.body)
    response.headers["Location"] = answer.location
    if token is not None:
        response.headers[DELETE_TOKEN_HEADER] = token
    # The token is a secret, and a replay is one client's answer: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response, 202


def _idempotency_key() -> str | None:
    """The request's Idempotency-Key, checked before its body is read; None if absent."""
    values = request.headers.getlist(IDEMPOTENCY_KEY_HEADER)
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"send one {IDEMPOTENCY_KEY_HEADER} field, not {len(values)}")
    try:
        return parse_idempotency_key(values[0])
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def _read_form(limit: int) -> UploadForm:
    """The form's image, description and expiry, each checked (400 or 413 otherwise)."""
    parts = _parts(limit)
    return UploadForm(_image_data(parts, limit), _description(parts), _expires_at(parts))


def _expires_at(parts: list[FormPart]) -> int | None:
    """When the image expires (Unix seconds) if the optional ``expires_in`` field was
    sent; 400 for a bad one."""
    fields = [part for part in parts if not part.is_file and part.name == EXPIRES_IN_FIELD]
    if not fields:
        return None
    if len(fields) > 1:
        raise BadRequest(f"send at most one {EXPIRES_IN_FIELD!r} field, not {len(fields)}")
    settings = current_settings()
    try:
        seconds = parse_expires_in(
            fields[0].data.decode("ascii", errors="replace"),
            minimum=settings.min_expires_seconds,
            maximum=settings.max_expires_seconds,
        )
    except InvalidExpiry as exc:
        raise BadRequest(str(exc)) from exc
    return int(time.time()) + seconds


def _parts(limit: int) -> list[FormPart]:
    if request.mimetype != "multipart/form-data":
        raise BadRequest(f"send multipart/form-data with the image in a file field named {FIELD!r}")
    boundary = request.mimetype_params.get("boundary")
    if not boundary:
        raise BadRequest("the multipart/form-data Content-Type has no boundary parameter")
    return _form_parts(boundary, limit)


def _image_data(parts: list[FormPart], limit: int) -> bytes:
    files = [part for part in parts if part.is_file and part.name == FIELD]
    if not files:
        present = sorted({part.name for part in parts if part.name is not None})
        hint = f" (found fields: {', '.join(present)[:200]})" if present else ""
        raise BadRequest(f"no file field named {FIELD!r}{hint}")
    if len(files) > 1:
        raise BadRequest(f"send exactly one file field named {FIELD!r}, not {len(files)}")
    data = files[0].data
    if len(data) > limit:
        raise RequestEntityTooLarge(f"the image must be at most {limit} bytes")
    if not data:
        raise BadRequest("the image file is empty")
    return data


def _description(parts: list[FormPart]) -> str | None:
    """The form's description, checked; None when it has none (or a blank one)."""
    fields = [part for part in parts if part.name == DESCRIPTION_FIELD]
    if not fields:
        return None
    if len(fields) > 1:
        raise BadRequest(f"send at most one {DESCRIPTION_FIELD!r} field, not {len(fields)}")
    if fields[0].is_file:
        raise BadRequest(f"send {DESCRIPTION_FIELD!r} as a text field, not a file")
    try:
        return description_from_form(fields[0].data)
    except InvalidDescription as exc:
        raise BadRequest(str(exc)) from exc


def _form_parts(boundary: str, limit: int) -> list[FormPart]:
    """The body's parts, with a clear error when it cannot be parsed."""
    config = current_app.config
    too_large = (
        f"the upload is too large: one image of at most {limit} bytes, in a form of at "
        f"most {config['MAX_FORM_PARTS']} parts with at most "
        f"{config['MAX_FORM_MEMORY_SIZE']} bytes of part headers and other fields"
    )
    try:
        return split_form(
            _whole_body(),
            boundary.encode("ascii"),
            max_parts=config["MAX_FORM_PARTS"],
            max_part_bytes=config["MAX_FORM_MEMORY_SIZE"],
        )
    except (MalformedForm, UnicodeEncodeError) as exc:
        raise BadRequest(
            "the multipart/form-data body is malformed or ends before its closing boundary"
        ) from exc
    except FormTooLarge as exc:
        raise RequestEntityTooLarge(too_large) from exc
    except RequestEntityTooLarge as exc:  # a chunked body past MAX_CONTENT_LENGTH
        raise RequestEntityTooLarge(too_large) from exc


def _whole_body() -> bytes:
    """The request body, in as few reads as it allows: each read of gunicorn's body
    copies what it still buffers, and each of Werkzeug's stream copies what it reads.

    A declared length was checked against ``MAX_CONTENT_LENGTH`` already, and the server
    never reads past it, so that body is read from the WSGI input at once; a chunked one
    goes through Werkzeug's stream, which refuses it once it passes the bound.
    """
    declared = request.content_length
    if declared is not None:
        body = bytes(request.environ["wsgi.input"].read(declared))
        if len(body) < declared:
            raise BadRequest("the request body ends before its declared Content-Length")
        return body
    stream = request.stream
    step = current_app.config["MAX_CONTENT_LENGTH"] + 1
    pieces = []
    while piece := stream.read(step):
        pieces.append(piece)
    return b"".join(pieces)
