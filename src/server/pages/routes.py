"""``GET /upload`` (the upload page), ``GET /i/<id>`` (an image's share page) and
``GET /static/<name>`` (their fingerprinted assets).

Every page carries a strict Content-Security-Policy: scripts, styles and requests go to
this origin only, images to this origin and the public image base.
"""

from urllib.parse import urlsplit

from flask import Blueprint, Response, render_template, url_for
from werkzeug.exceptions import Gone, NotFound

from server.bound_backends import current_settings
from server.errors import ERROR_CACHE_CONTROL
from server.image_lookups import ImageExpired, ImageTakenDown, public_status
from server.pages.assets import IMMUTABLE, assets_by_served_name, static_assets
from server.pages.srcset import image_srcset
from sharer.deletion import Ending
from sharer.descriptions import MAX_DESCRIPTION_CHARACTERS
from sharer.formats import HEIF, ImageFormat, format_names
from sharer.thumbnail_sizes import LARGEST_THUMBNAIL_NAME, THUMBNAIL_NAMES

pages_blueprint = Blueprint("pages", __name__, template_folder="templates")

# A share page is stable once its image is ready or failed, but a delete must take it
# down soon; pending pages change within seconds and an unknown id may be an image whose
# upload is being answered right now.
READY_PAGE_CACHE = "public, max-age=60"
CHANGING_PAGE_CACHE = "no-cache"


def content_security_policy() -> str:
    """The policy of every page: nothing from elsewhere but the images."""
    image_sources = ["'self'"]
    base = current_settings().common.public_base_url
    if base is not None:
        parts = urlsplit(base)
        image_sources.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            f"img-src {' '.join(image_sources)}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def size_text(size: int) -> str:
    """A byte count as a person reads it (``1 MiB``, ``300 KiB``, ``512 bytes``)."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} bytes"


def share_url(image_id: str) -> str:
    """The absolute URL of an image's share page, from configuration (never the Host)."""
    return f"{current_settings().common.site_url}/i/{image_id}"


@pages_blueprint.app_context_processor
def _template_helpers() -> dict[str, object]:
    def asset_url(name: str) -> str:
        return url_for("pages.static_asset", served_name=static_assets()[name].served_name)

    return {"asset_url": asset_url}


def _page(html: str, status: int, cache_control: str) -> Response:
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def file_picker_accept(formats: tuple[ImageFormat, ...]) -> str:
    """The file input's ``accept``: each format's media type and file extensions. HEIC
    is named by both its types and extensions, so that a phone offers the photo as it is
    (an iPhone converts a HEIC to JPEG for a page that does not name HEIC)."""
    names: list[str] = []
    for image_format in formats:
        names += [image_format.media_type, f".{image_format.extension}"]
        if image_format == HEIF:
            names += ["image/heif", ".heif"]
        if image_format.extension == "jpg":
            names.append(".jpeg")
    return ",".join(names)


@pages_blueprint.get("/upload")
def upload_page() -> Response:
    """The page to upload images from a browser, naming the formats the server takes."""
    settings = current_settings()
    limit = settings.max_upload_bytes
    html = render_template(
        "upload.html",
        max_upload_bytes=limit,
        limit_text=size_text(limit),
        format_names=format_names(settings.accepted_formats),
        accept=file_picker_accept(settings.accepted_formats),
        media_types=" ".join(f.media_type for f in settings.accepted_formats),
        max_description=MAX_DESCRIPTION_CHARACTERS,
        thumbnail_names=" ".join(THUMBNAIL_NAMES),
        # The page asks for a key only where an upload without one is refused.
        key_required=settings.api_keys == "required",
    )
    # no-cache: a deploy changes the asset names the page refers to.
    return _page(html, 200, CHANGING_PAGE_CACHE)


@pages_blueprint.get("/i/<image_id>")
def share_page(image_id: str) -> Response:
    """An image's share page with OpenGraph tags; a placeholder while it is pending;
    404 for an unknown id, 410 for one deleted, expired or taken down (saying which;
    all HTML)."""
    try:
        document = public_status(image_id)
    except NotFound:
        return _page(render_template("not_found.html"), 404, ERROR_CACHE_CONTROL)
    except ImageExpired:
        return _gone_page(Ending.EXPIRED)
    except ImageTakenDown:
        return _gone_page(Ending.TAKEN_DOWN)
    except Gone:
        return _gone_page(Ending.DELETED)
    state = document["status"]
    html = render_template(
        "share.html",
        image_id=image_id,
        state=state,
        urls=document["urls"],
        thumbnail_names=THUMBNAIL_NAMES,
        largest=LARGEST_THUMBNAIL_NAME,
        share_url=share_url(image_id),
        largest_size=largest_thumbnail_size(document),
        description=document.get("description"),
        srcset=image_srcset(document),
    )
    cache_control = CHANGING_PAGE_CACHE if state == "pending" else READY_PAGE_CACHE
    return _page(html, 200, cache_control)


def _gone_page(ending: Ending) -> Response:
    """The 410 page, saying why the image is gone."""
    return _page(render_template("deleted.html", ending=ending.value), 410, ERROR_CACHE_CONTROL)


def largest_thumbnail_size(document: dict[str, object]) -> tuple[int, int] | None:
    """(width, height) of the largest thumbnail when the status document gives it."""
    sizes = document.get("thumbnails")
    if not isinstance(sizes, dict):
        return None
    large = sizes.get(LARGEST_THUMBNAIL_NAME)
    if not isinstance(large, dict):
        return None
    width, height = large.get("width"), large.get("height")
    if isinstance(width, int) and isinstance(height, int):
        return width, height
    return None


@pages_blueprint.get("/static/<served_name>")
def static_asset(served_name: str) -> Response:
    """A static file by its fingerprinted name, cacheable for a year."""
    asset = assets_by_served_name().get(served_name)
    if asset is None:
        raise NotFound("no such file")
    response = Response(asset.body, mimetype=asset.mimetype)
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
