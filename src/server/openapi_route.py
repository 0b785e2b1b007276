"""``GET /openapi.json``: the OpenAPI 3.1 description of every route and status.

Kept true by tests/api (schemathesis against the real server): a status, header, content
type or body the server gives and this document does not describe fails that test.
"""

from collections.abc import Collection
from typing import Any

from flask import Blueprint, Response, jsonify

from server.bound_backends import current_settings
from server.idempotent_uploads import MAX_IDEMPOTENCY_KEY_LENGTH
from sharer.deletion import Ending
from sharer.descriptions import MAX_DESCRIPTION_CHARACTERS
from sharer.expiry import EXPIRY_TIME_DIGITS
from sharer.formats import ACCEPTED, THUMBNAIL_FORMATS, ImageFormat, format_names
from sharer.ids import IMAGE_ID_PATTERN
from sharer.key_scheme import IDEMPOTENCY_RETENTION_SECONDS
from sharer.settings import DEFAULT_MAX_EXPIRES_SECONDS, DEFAULT_MIN_EXPIRES_SECONDS
from sharer.status import ImageState
from sharer.thumbnail_sizes import IMAGE_URL_NAMES, THUMBNAIL_NAMES, THUMBNAIL_SIZES
from sharer.webhook_events import EventType

openapi_blueprint = Blueprint("openapi", __name__)

JSON = "application/json"
HTML = "text/html"
ID_PATTERN = f"^{IMAGE_ID_PATTERN}$"

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, **headers: Schema) -> Schema:
    response: Schema = {"description": description, "content": {JSON: {"schema": _ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


def _get(
    summary: str, operation_id: str, responses: Schema, parameters: list[Schema] | None = None
) -> Schema:
    operation = {"summary": summary, "operationId": operation_id, "responses": responses}
    return operation | {"parameters": parameters} if parameters else operation


def _html(description: str) -> Schema:
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


_RETRY_AFTER: Schema = {
    "description": "seconds to wait before retrying",
    "schema": {"type": "integer", "minimum": 0},
}
# draft-ietf-httpapi-ratelimit-headers-11, sections 3 and 4 (server.upload_quotas).
_RATE_LIMIT_HEADERS: Schema = {
    "RateLimit-Policy": {
        "description": 'the quotas that apply, when an operator set any: e.g. "uploads";q=60;'
        'w=60, "upload-bytes";q=1073741824;qu="content-bytes";w=86400',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": "what is left of each, and the seconds until its window resets: e.g. "
        '"uploads";r=59;t=42, "upload-bytes";r=1073000000;t=3600',
        "schema": {"type": "string"},
    },
}
_BUSY = _error(
    "storage or queue briefly unavailable; nothing was kept", **{"Retry-After": _RETRY_AFTER}
)
_UPLOAD_BUSY = _error(
    "storage or queue briefly unavailable, or this server is busy proving other HEIC/AVIF "
    "uploads decode; nothing was kept",
    **{"Retry-After": _RETRY_AFTER},
)


def _id_parameter(description: str) -> Schema:
    return {
        "name": "image_id",
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": ID_PATTERN},
    }


# The thumbnails as a person reads them: "small (fits 100x100), medium (fits 300x300)...".
_SIZES_TEXT = ", ".join(
    f"{size.name} (fits {size.width}x{size.height})" for size in reversed(THUMBNAIL_SIZES)
)


def _url_set() -> Schema:
    return {
        "type": "object",
        "required": list(IMAGE_URL_NAMES),
        "description": f"the original's URL and each thumbnail's: {_SIZES_TEXT}",
        "properties": {name: {"type": "string", "format": "uri"} for name in IMAGE_URL_NAMES},
    }


_DESCRIPTION_RULES = (
    "line breaks (CR LF, CR or LF) are kept as LF and tabs are kept; any other control "
    "character is refused (400); surrounding whitespace is removed, and a blank "
    "description is none"
)


def _schemas(
    max_upload_bytes: int,
    accepted_formats: Collection[ImageFormat],
    expires_bounds: tuple[int, int],
) -> Schema:
    shortest, longest = expires_bounds
    accepted = _url_set() | {"additionalProperties": False}
    return {
        "UploadForm": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "image": {
                    "type": "string",
                    "contentMediaType": "application/octet-stream",
                    "description": (
                        f"a {format_names(accepted_formats)} image of at most "
                        f"{max_upload_bytes} bytes (sniffed from its bytes: "
                        f"{', '.join(f.media_type for f in accepted_formats)})"
                    ),
                    # For clients that fit a photo to the server (``sharer upload --fit``).
                    "x-max-bytes": max_upload_bytes,
                    "x-media-types": [f.media_type for f in accepted_formats],
                },
                "description": {
                    "type": "string",
                    "maxLength": MAX_DESCRIPTION_CHARACTERS,
                    "description": (
                        "optional: what the image shows, UTF-8 text of at most "
                        f"{MAX_DESCRIPTION_CHARACTERS} characters, for the share page's alt "
                        f"text and OpenGraph description; {_DESCRIPTION_RULES}. Part of "
                        "what an Idempotency-Key is bound to"
                    ),
                },
                "expires_in": {
                    "type": "string",
                    "pattern": f"^[0-9]{{1,{EXPIRY_TIME_DIGITS}}}$",
                    "description": (
                        f"optional: whole seconds from {shortest} to {longest} after which the "
                        "image and its thumbnails are removed (the status then answers 410 "
                        "with status expired); without it the image never expires"
                    ),
                },
            },
        },
        "UploadAccepted": accepted,
        "Size": {
            "type": "object",
            "required": ["width", "height"],
            "properties": {
                "width": {"type": "integer", "minimum": 1},
                "height": {"type": "integer", "minimum": 1},
            },
        },
        "ImageStatus": {
            "type": "object",
            "required": ["id", "status", "urls"],
            "properties": {
                "id": {"type": "string", "pattern": ID_PATTERN},
                "status": {"enum": [state.value for state in ImageState]},
                "urls": _url_set(),
                "reason": {"type": "string", "description": "why a failed image failed"},
                "description": {
                    "type": "string",
                    "maxLength": MAX_DESCRIPTION_CHARACTERS,
                    "description": "the uploader's description, as stored (absent if none)",
                },
                "width": {"type": "integer", "minimum": 1, "description": "upright original"},
                "height": {"type": "integer", "minimum": 1, "description": "upright original"},
                "thumbnails": {
                    "type": "object",
                    "description": "each thumbnail's size (ready images)",
                    "properties": {name: _ref("Size") for name in THUMBNAIL_NAMES},
                    "additionalProperties": _ref("Size"),
                },
                "thumbhash": {"type": "string", "description": "ThumbHash placeholder, base64"},
                "animated": {"const": True, "description": "animated thumbnails (WebP)"},
                "frames": {"type": "integer", "minimum": 2, "description": "their frames"},
                "expires_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "when the image expires (RFC 3339, UTC), if it was "
                    "uploaded with expires_in",
                },
            },
        },
        "Gone": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string", "description": "for a person to read"},
                "id": {"type": "string", "pattern": ID_PATTERN},
                "status": {
                    "enum": [Ending.EXPIRED.public_state],
                    "description": "present when it expired",
                },
            },
        },
        "WebhookEvent": {
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "additionalProperties": False,
            "description": "the body of every webhook, signed as Standard Webhooks asks "
            "(webhook-id, webhook-timestamp, webhook-signature headers); retried with the "
            "same webhook-id until a 2xx, for at least 24 hours",
            "properties": {
                "type": {"enum": [event.value for event in EventType]},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": {
                    "allOf": [_ref("ImageStatus")],
                    "description": "the image's status document; status is deleted or "
                    "expired in those events",
                },
            },
        },
        "Liveness": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"enum": ["ok"]}},
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"enum": ["ok", "unavailable"]},
                "storage": {"type": "string"},
                "queue": {"type": "string"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string", "description": "for a person to read"}},
        },
    }


# The IETF httpapi draft "The Idempotency-Key HTTP Header Field" (server.idempotent_uploads).
_IDEMPOTENCY_KEY: Schema = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": f"a quoted string of 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters, "
    "unique per image (a UUID4: keys are global, as uploads are anonymous). Sent again with "
    f"the same image within {IDEMPOTENCY_RETENTION_SECONDS // 3600} hours, the upload is not "
    "repeated: the first 202 (body and Location, no Delete-Token) is answered",
    "schema": {"type": "string", "examples": ['"8e03978e-40d5-43e8-bc93-6894a57f9324"']},
}
# ``Prefer: wait=N`` (RFC 7240) on a GET of a pending image (see server.pending_waits).
_PREFER_WAIT: Schema = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "wait=<seconds>: while the image is pending, hold the answer until it "
    "is ready, failed or deleted, or the wait (capped by the server) is over",
    "schema": {"type": "string", "examples": ["wait=10"]},
}
_PREFERENCE_APPLIED: Schema = {
    "Preference-Applied": {
        "description": "wait=<granted seconds>, when the answer was held (absent when the "
        "server had no room to hold it: ask again)",
        "schema": {"type": "string"},
    }
}


# What /media may serve: an original of any format the service takes (one stored while
# SHARER_ACCEPTED_FORMATS was wider stays served) and every thumbnail format.
_MEDIA_TYPES = tuple(
    dict.fromkeys(f.media_type for f in (*ACCEPTED.values(), *THUMBNAIL_FORMATS.values()))
)


def _paths() -> Schema:
    return {
        "/": {
            "post": {
                "summary": "Upload one image",
                "operationId": "upload",
                # A key is optional unless the operator requires one (SHARER_API_KEYS).
                "security": [{}, {"apiKey": []}],
                "parameters": [
                    {
                        "name": "Accept",
                        "in": "header",
                        "required": False,
                        "description": "must admit application/json (none, or */*, does)",
                        "schema": {"type": "string"},
                    },
                    _IDEMPOTENCY_KEY,
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": _ref("UploadForm"),
                            "encoding": {
                                "image": {"contentType": "application/octet-stream"},
                                "description": {"contentType": "text/plain; charset=utf-8"},
                            },
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "stored and queued: the URLs the image and its "
                        "thumbnails will have",
                        "headers": {
                            "Location": {
                                "description": "the image's status resource",
                                "schema": {"type": "string"},
                            },
                            "Delete-Token": {
                                "description": "the bearer token that deletes this image, "
                                "given once: absent when the answer replays an earlier one "
                                "under the same Idempotency-Key",
                                "schema": {"type": "string"},
                            },
                            **_RATE_LIMIT_HEADERS,
                        },
                        "content": {JSON: {"schema": _ref("UploadAccepted")}},
                    },
                    "401": _error(
                        "an API key is required (SHARER_API_KEYS=required) and none was sent, "
                        "or the key sent is unknown or revoked",
                        **{
                            "WWW-Authenticate": {
                                "description": "Bearer realm=uploads",
                                "schema": {"type": "string"},
                            }
                        },
                    ),
                    "429": _error(
                        "over the key's (or, without a key, the address's) uploads per minute "
                        "or bytes per day; decided before the body is read, and not counted",
                        **{"Retry-After": _RETRY_AFTER, **_RATE_LIMIT_HEADERS},
                    ),
                    "400": _error(
                        "no image part, not an image we accept, a description that breaks "
                        "its rules, or a malformed Idempotency-Key"
                    ),
                    "406": _error("Accept does not admit application/json"),
                    "409": _error(
                        "an upload with this Idempotency-Key is still in progress: retry it "
                        "with the same key",
                        **{"Retry-After": _RETRY_AFTER},
                    ),
                    "413": _error("the image or the form is too large (refused before reading)"),
                    "422": _error(
                        "this Idempotency-Key was used with another image or description: "
                        "send a new key"
                    ),
                    "503": _UPLOAD_BUSY,
                },
            },
            "get": _get(
                "Not an upload: POST is the only method of /",
                "uploadWrongMethod",
                {"405": _error("use POST (Allow: POST)")},
            ),
        },
        "/images/{image_id}": {
            "parameters": [_id_parameter("the image's id")],
            "get": _get(
                "An image's status and URLs",
                "imageStatus",
                parameters=[_PREFER_WAIT],
                responses={
                    "200": {
                        "description": "pending, ready or failed",
                        "headers": _PREFERENCE_APPLIED,
                        "content": {JSON: {"schema": _ref("ImageStatus")}},
                    },
                    "404": _error("no image with that id"),
                    "410": {
                        "description": "the image was deleted, or expired (then status says so)",
                        "content": {JSON: {"schema": _ref("Gone")}},
                    },
                },
            ),
            "delete": {
                "summary": "Delete an image and all its objects",
                "operationId": "deleteImage",
                "security": [{"deleteToken": []}],
                "responses": {
                    "204": {"description": "deleted: every URL of the image now answers 404"},
                    "401": _error(
                        "no token given",
                        **{
                            "WWW-Authenticate": {
                                "description": "Bearer",
                                "schema": {"type": "string"},
                            }
                        },
                    ),
                    "403": _error("wrong token; nothing was removed"),
                    "404": _error("no image with that id"),
                    "410": _error("the image was already deleted"),
                    "503": _BUSY,
                },
            },
        },
        "/livez": {
            "get": _get(
                "Does this server process answer? (no backend is called)",
                "liveness",
                {
                    "200": {
                        "description": "the process serves requests",
                        "content": {JSON: {"schema": _ref("Liveness")}},
                    }
                },
            )
        },
        "/healthz": {
            "get": _get(
                "Do storage and queue answer?",
                "health",
                {
                    "200": {
                        "description": "healthy",
                        "content": {JSON: {"schema": _ref("Health")}},
                    },
                    "503": {
                        "description": "names the backend that does not answer",
                        "content": {JSON: {"schema": _ref("Health")}},
                    },
                },
            )
        },
        "/media/{key}": {
            "parameters": [
                {
                    "name": "key",
                    "in": "path",
                    "required": True,
                    "description": "images/<id>/<name>.<ext> (embedded backends only)",
                    "schema": {"type": "string"},
                }
            ],
            "get": _get(
                "An image object (on AWS, CloudFront serves these)",
                "media",
                parameters=[_PREFER_WAIT],
                responses={
                    "200": {
                        "description": "the stored bytes, immutable",
                        "headers": _PREFERENCE_APPLIED,
                        "content": {
                            media_type: {"schema": {"type": "string"}}
                            for media_type in _MEDIA_TYPES
                        },
                    },
                    "304": {"description": "not modified (If-None-Match)"},
                    "404": _error("no such object (a thumbnail appears once made)"),
                },
            ),
        },
        "/metrics": {
            "get": _get(
                "The service's metrics in Prometheus' text format (embedded mode; on "
                "SHARER_METRICS_BIND when set, never through CloudFront)",
                "metrics",
                {
                    "200": {
                        "description": "every server process's, the workers' and the queue's",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                },
            )
        },
        "/upload": {"get": _get("The upload page", "uploadPage", {"200": _html("the page")})},
        "/i/{image_id}": {
            "parameters": [_id_parameter("the image's id")],
            "get": _get(
                "An image's share page, with OpenGraph tags",
                "sharePage",
                {
                    "200": _html("the page"),
                    "404": _html("no such image"),
                    "410": _html("the image was deleted"),
                },
            ),
        },
        "/static/{name}": {
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "description": "a fingerprinted asset name the pages refer to",
                    "schema": {"type": "string"},
                }
            ],
            "get": _get(
                "A static asset of the pages, cacheable for a year",
                "staticAsset",
                {
                    "200": {
                        "description": "the asset",
                        "content": {
                            "text/css": {"schema": {"type": "string"}},
                            "text/javascript": {"schema": {"type": "string"}},
                        },
                    },
                    "404": _error("no such file"),
                },
            ),
        },
        "/openapi.json": {
            "get": _get(
                "This document",
                "openapi",
                {"200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {}}}}},
            )
        },
        "/sharex.sxcu": {
            "get": _get(
                "A ShareX custom uploader for this server",
                "sharex",
                {
                    "200": {
                        "description": "import it in ShareX (double-click the file)",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            )
        },
    }


def _webhooks() -> Schema:
    """What ``sharer-webhooks`` POSTs to ``SHARER_WEBHOOK_URL``, one entry per event."""
    signature_headers = [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    ]
    return {
        event.value: {
            "post": {
                "summary": f"{event.value}: the image is now {event.value.split('.')[1]}",
                "operationId": f"webhook_{event.name.lower()}",
                "parameters": signature_headers,
                "requestBody": {"content": {JSON: {"schema": _ref("WebhookEvent")}}},
                "responses": {"2XX": {"description": "received; anything else is retried"}},
            }
        }
        for event in EventType
    }


def openapi_document(
    site_url: str,
    max_upload_bytes: int,
    accepted_formats: Collection[ImageFormat],
    expires_bounds: tuple[int, int] = (DEFAULT_MIN_EXPIRES_SECONDS, DEFAULT_MAX_EXPIRES_SECONDS),
) -> Schema:
    """The whole description, for a server reached at ``site_url`` that takes images of
    ``accepted_formats`` (``SHARER_ACCEPTED_FORMATS``) and ``expires_in`` within
    ``expires_bounds`` (seconds)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "My Little Image Sharer",
            "version": "1",
            "description": "Upload an image, get its thumbnails' URLs at once (202); the "
            "thumbnails exist once the status resource says ready.",
        },
        "servers": [{"url": site_url}],
        "paths": _paths(),
        "webhooks": _webhooks(),
        "components": {
            "schemas": _schemas(max_upload_bytes, accepted_formats, expires_bounds),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key from `sharer-admin keys create`",
                },
                "deleteToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the Delete-Token header of the image's 202",
                },
            },
        },
    }


@openapi_blueprint.get("/openapi.json")
def openapi() -> Response:
    """This server's API description."""
    settings = current_settings()
    response = jsonify(
        openapi_document(
            settings.common.site_url,
            settings.max_upload_bytes,
            settings.accepted_formats,
            (settings.min_expires_seconds, settings.max_expires_seconds),
        )
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
