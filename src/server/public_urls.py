"""The public URLs of an image's objects: on the CDN, or on our own media route locally."""

from urllib.parse import urlsplit

from flask import request

from server.context import current_settings
from sharer.messages import ThumbnailJob
from sharer.variants import image_prefix

MEDIA_PREFIX = "/media"


def public_url(key: str) -> str:
    """URL at which clients fetch the object stored at ``key``."""
    base = current_settings().public_base_url or request.host_url.rstrip("/") + MEDIA_PREFIX
    return f"{base}/{key}"


def image_urls(job: ThumbnailJob) -> dict[str, str]:
    """The 202 body: exactly original, small, medium and large."""
    urls = {"original": public_url(job.original_key)}
    by_name = {t.name: public_url(t.key) for t in job.thumbnails}
    return urls | {name: by_name[name] for name in ("small", "medium", "large")}


def public_path_prefix(image_id: str) -> str:
    """The URL path under which the CDN serves every object of the image (``/...``/)."""
    base_path = urlsplit(current_settings().public_base_url or "").path.rstrip("/")
    return f"{base_path}/{image_prefix(image_id)}"
