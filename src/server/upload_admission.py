"""nginx's admission of uploads: ``POST /``'s 401 and 429 before its body is read.

nginx buffers a request's whole body before gunicorn sees it
(``server.transport.nginx_config``), so the app's own 401 and 429, decided from the
headers, would reach a client only after it had sent its body. When API keys or quotas
are on (:func:`admission_enabled`), nginx first asks this route, through its
auth_request module: a ``GET`` subrequest carrying the upload's headers and no body,
reachable only from nginx (an ``internal`` location; without admission the route does
not exist). It checks the key and *peeks* at the quotas
(``server.upload_quotas.peek_upload``): nothing is charged here, the upload is charged
when the app handles it, so a refused or failed upload is never counted and two racing
uploads are still settled by that atomic charge.

auth_request knows allow (2xx) and deny (401, 403) only, so a refusal travels as a 401
or a 403 whose headers carry what nginx's answer needs: the JSON body the app would have
sent, ``WWW-Authenticate`` or ``Retry-After``, and the RateLimit fields. nginx answers
the 401 as it is and the 403 as the 429.
"""

import logging

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from server.errors import http_error_response
from server.negotiation import admits_json
from server.request_log import request_id
from server.service_metrics import UPLOADS
from server.upload_quotas import STORE_DOWN, peek_upload, rate_limit_fields
from sharer.settings import ServerSettings

ADMISSION_PATH = "/_sharer_admission"
# Headers nginx sets on the subrequest: the upload's method and its declared length
# (the subrequest itself is a GET without a body).
METHOD_HEADER = "X-Sharer-Method"
DECLARED_LENGTH_HEADER = "X-Sharer-Upload-Length"
# The refusal's JSON body, for nginx to answer with.
REFUSAL_HEADER = "X-Sharer-Refusal"
# How a refusal over a quota travels to nginx (auth_request's "deny"), which answers 429.
OVER_QUOTA_STATUS = 403
# The IETF httpapi draft's fields, on a refusal as on every answer to an upload.
RATE_LIMIT_FIELDS = ("RateLimit-Policy", "RateLimit")
# The refusal's own headers that nginx passes on to the client.
REFUSAL_FIELDS = ("WWW-Authenticate", "Retry-After", *RATE_LIMIT_FIELDS)

log = logging.getLogger("sharer.server")
admission_blueprint = Blueprint("admission", __name__)


def admission_enabled(settings: ServerSettings) -> bool:
    """Whether uploads can be refused from their headers (API keys, or address quotas):
    then nginx asks this route before it reads an upload's body."""
    return (
        settings.api_keys != "off"
        or settings.address_uploads_per_minute > 0
        or settings.address_bytes_per_day > 0
    )


@admission_blueprint.route(ADMISSION_PATH, methods=["GET"])
def upload_admission() -> Response:
    """204 to let nginx read the upload and pass it on; a 401 or 403 to refuse it."""
    if request.headers.get(METHOD_HEADER) != "POST" or not admits_json(
        request.headers.get("Accept")
    ):
        # The upload route answers its 405 or 406 first, as it always has.
        return Response(status=204)
    try:
        peek_upload(_declared_length())
    except HTTPException as exc:
        return _refusal(exc)
    except STORE_DOWN as exc:
        # The upload route meets the same outage and answers its 503 itself.
        log.warning(
            "admission left to the upload", extra={"request_id": request_id(), "error": repr(exc)}
        )
    return Response(status=204)


def _declared_length() -> int | None:
    value = request.headers.get(DECLARED_LENGTH_HEADER, "")
    return int(value) if value.isdigit() else None


def _refusal(exc: HTTPException) -> Response:
    """The subrequest's answer for the upload route's own refusal ``exc``."""
    refused = http_error_response(exc)
    refused.headers.update(rate_limit_fields())
    UPLOADS.labels(status=str(refused.status_code)).inc()
    answer = Response(status=401 if refused.status_code == 401 else OVER_QUOTA_STATUS)
    answer.headers[REFUSAL_HEADER] = refused.get_data(as_text=True).strip()
    for name in REFUSAL_FIELDS:
        if name in refused.headers:
            answer.headers[name] = refused.headers[name]
    return answer
