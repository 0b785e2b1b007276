"""``GET /sharex.sxcu``: a ShareX custom uploader for this server, so a Windows user
imports it with a double-click and uploads screenshots from then on."""

import json
from urllib.parse import urlsplit

from flask import Blueprint, Response

from server.bound_backends import current_settings
from sharer.thumbnail_sizes import THUMBNAIL_NAMES

sharex_blueprint = Blueprint("sharex", __name__)

# ShareX's custom uploader format as of its version 13 (the {json:} / {regex:} syntax).
SXCU_VERSION = "13.0.0"


def sharex_uploader(site_url: str) -> dict[str, object]:
    """The uploader document for a server reached at ``site_url``."""
    host = urlsplit(site_url).netloc
    return {
        "Version": SXCU_VERSION,
        "Name": f"My Little Image Sharer ({host})",
        "DestinationType": "ImageUploader",
        "RequestMethod": "POST",
        "RequestURL": f"{site_url}/",
        "Headers": {"Accept": "application/json"},
        "Body": "MultipartFormData",
        "FileFormName": "image",
        # The share page of the id inside the original's URL; its smallest thumbnail for
        # ShareX's history; the server's own words on a refusal.
        "URL": f"{site_url}/i/{{regex:/images/([^/]+)/original|1}}",
        "ThumbnailURL": f"{{json:{THUMBNAIL_NAMES[0]}}}",
        "ErrorMessage": "{json:error}",
    }


@sharex_blueprint.get("/sharex.sxcu")
def sharex() -> Response:
    """The uploader file, offered as a download named for this server."""
    site_url = current_settings().common.site_url
    body = json.dumps(sharex_uploader(site_url), indent=2)
    response = Response(body, mimetype="application/json")
    filename = urlsplit(site_url).netloc.replace(":", "_") + ".sxcu"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
