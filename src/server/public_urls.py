"""The public URLs of an image's objects: on the CDN, or on our own media route locally.

They come from settings alone, never from the request (its Host header is the client's
to write): ``SHARER_PUBLIC_BASE_URL``, or else the media route under ``SHARER_SITE_URL``
(which defaults to the bind address); see ``sharer.status_documents``.
"""

from server.bound_backends import current_settings
from sharer.messages import ThumbnailJob
from sharer.status_documents import media_base_url
from sharer.thumbnail_sizes import THUMBNAIL_NAMES


def public_url(key: str) -> str:
    """URL at which clients fetch the object stored at ``key``."""
    return f"{media_base_url(current_settings().common)}/{key}"


def image_urls(job: ThumbnailJob) -> dict[str, str]:
    """The 202 body: exactly the original and one URL per thumbnail size, by name."""
    urls = {"original": public_url(job.original_key)}
    by_name = {t.name: public_url(t.key) for t in job.thumbnails}
    return urls | {name: by_name[name] for name in THUMBNAIL_NAMES}
