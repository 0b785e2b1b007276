"""The public URLs of an image's objects: on the CDN, or on our own media route locally.

They come from settings alone, never from the request (its Host header is the client's
to write): ``SHARER_PUBLIC_BASE_URL``, or else the media route under ``SHARER_SITE_URL``
(which defaults to the bind address).
"""

from urllib.parse import urlsplit

from server.bound_backends import current_settings
from sharer.key_scheme import image_prefix
from sharer.messages import ThumbnailJob
from sharer.settings import Settings
from sharer.thumbnail_sizes import THUMBNAIL_NAMES

MEDIA_PREFIX = "/media"


def media_base_url(settings: Settings) -> str:
    """Where clients fetch stored objects: the configured base, or our own media route."""
    if settings.public_base_url is not None:
        return settings.public_base_url
    return f"{settings.site_url}{MEDIA_PREFIX}"


def public_url(key: str) -> str:
    """URL at which clients fetch the object stored at ``key``."""
    return f"{media_base_url(current_settings())}/{key}"


def image_urls(job: ThumbnailJob) -> dict[str, str]:
    """The 202 body: exactly the original and one URL per thumbnail size, by name."""
    urls = {"original": public_url(job.original_key)}
    by_name = {t.name: public_url(t.key) for t in job.thumbnails}
    return urls | {name: by_name[name] for name in THUMBNAIL_NAMES}


def public_path_prefix(image_id: str) -> str:
    """The URL path under which the CDN serves every object of the image (``/...``/)."""
    base_path = urlsplit(current_settings().public_base_url or "").path.rstrip("/")
    return f"{base_path}/{image_prefix(image_id)}"


def share_page_path(image_id: str) -> str:
    """The URL path of the image's share page (``/i/<id>`` under ``SHARER_SITE_URL``)."""
    base_path = urlsplit(current_settings().site_url).path.rstrip("/")
    return f"{base_path}/i/{image_id}"
