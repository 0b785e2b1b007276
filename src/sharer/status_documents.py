"""The public status document of an image (what ``GET /images/<id>`` answers and what a
webhook event carries), and the paths the CDN serves it under, from settings alone so
every process (server, worker, reconciler, ``sharer-admin``) writes the same."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from sharer.expiry import rfc3339
from sharer.key_scheme import image_prefix
from sharer.settings import CommonSettings
from sharer.status import ImageFacts, ImageStatus
from sharer.webhook_events import EventType, WebhookEvents

# Where the server serves stored objects itself when no CDN base URL is configured.
MEDIA_PREFIX = "/media"


def media_base_url(settings: CommonSettings) -> str:
    """Where clients fetch stored objects: the configured base, or our own media route."""
    if settings.public_base_url is not None:
        return settings.public_base_url
    return f"{settings.site_url}{MEDIA_PREFIX}"


def status_document(
    status: ImageStatus, settings: CommonSettings, *, state: str | None = None
) -> dict[str, object]:
    """The public document of ``status`` (``state`` overrides its state: ``deleted``,
    ``expired``); never the delete token's digest."""
    base = media_base_url(settings)
    body: dict[str, object] = {
        "id": status.image_id,
        "status": state or status.state.value,
        "urls": {name: f"{base}/{key}" for name, key in status.keys.items()},
    }
    if status.reason is not None:
        body["reason"] = status.reason
    if status.description is not None:
        body["description"] = status.description
    if status.facts is not None:
        body |= _facts_body(status.facts)
    if status.expires_at is not None:
        body["expires_at"] = rfc3339(status.expires_at)
    return body


def cdn_paths(settings: CommonSettings, image_id: str) -> list[str]:
    """What the CDN must forget of a removed image: every object (one wildcard) and its
    share page (``/i/<id>`` under ``SHARER_SITE_URL``)."""
    base_path = urlsplit(settings.public_base_url or "").path.rstrip("/")
    site_path = urlsplit(settings.site_url).path.rstrip("/")
    return [f"{base_path}/{image_prefix(image_id)}*", f"{site_path}/i/{image_id}"]


@dataclass(frozen=True)
class Announcer:
    """Queues the webhook event of an image's new state, with its status document."""

    events: WebhookEvents
    settings: CommonSettings

    def __call__(self, event_type: EventType, status: ImageStatus) -> None:
        """Queue ``event_type`` about ``status``; raises ``QueueUnavailable``."""
        self.events.emit(event_type, status_document(status, self.settings))


def _facts_body(facts: ImageFacts) -> dict[str, object]:
    animated: dict[str, object] = (
        {"animated": True, "frames": facts.frames} if facts.frames and facts.frames > 1 else {}
    )
    return animated | {
        "width": facts.width,
        "height": facts.height,
        "thumbnails": {
            name: {"width": width, "height": height}
            for name, (width, height) in facts.thumbnail_sizes.items()
        },
        "thumbhash": facts.thumbhash,
    }
