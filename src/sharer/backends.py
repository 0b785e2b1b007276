"""The one place that picks the Storage, Queue, EdgeCache, StatusWakeups, ApiKeys,
QuotaCounters and WebhookEvents adapters, from the settings' URLs.

The URLs were validated by ``CommonSettings.read``; a URL it would refuse raises here too.
"""

from pathlib import Path
from urllib.parse import unquote, urlsplit

from sharer.api_keys import ApiKeys, DynamoApiKeys, SqliteApiKeys
from sharer.aws import (
    WIDEST_PUT_ALL,
    cloudfront_client,
    dynamodb_client,
    s3_client,
    sqs_client,
)
from sharer.edge_cache import CloudFrontEdgeCache, EdgeCache, NoEdgeCache
from sharer.queues.port import Queue
from sharer.queues.sqlite import SqliteQueue
from sharer.queues.sqs import SqsQueue
from sharer.quota_counters import DynamoQuotaCounters, QuotaCounters, SqliteQuotaCounters
from sharer.settings import CommonSettings, SettingsError
from sharer.status_wakeups import DatagramStatusWakeups, RecheckingStatusWakeups, StatusWakeups
from sharer.storage.local import LocalStorage
from sharer.storage.port import Storage
from sharer.storage.s3 import S3Storage
from sharer.webhook_events import NoWebhookEvents, QueuedWebhookEvents, WebhookEvents

# Receives of one webhook event before the queue itself moves it to the dead-letter
# queue: a backstop only, as ``sharer-webhooks`` dead-letters an event once its retries
# have spanned their day, well before (``webhook_delivery.retries``).
WEBHOOK_MAX_RECEIVES = 100
# How long an event stays hidden while one delivery attempt runs.
WEBHOOK_VISIBILITY_SECONDS = 60


def open_storage(settings: CommonSettings) -> Storage:
    """``file:///abs/dir`` -> LocalStorage; ``s3://bucket[/prefix]`` -> S3Storage."""
    parts = urlsplit(settings.storage_url)
    if parts.scheme == "file":
        return LocalStorage(_local_path(settings.storage_url))
    if parts.scheme == "s3" and parts.netloc:
        return S3Storage(
            s3_client(settings),
            parts.netloc,
            parts.path.strip("/"),
            # Each caller does one put of its put_all itself.
            parallel_puts=settings.calling_threads * (WIDEST_PUT_ALL - 1),
        )
    raise SettingsError(f"SHARER_STORAGE_URL={settings.storage_url!r}: unsupported storage")


def open_queue(settings: CommonSettings) -> Queue:
    """``sqlite:///abs/path`` -> SqliteQueue; an SQS queue URL -> SqsQueue (needs a DLQ)."""
    return _queue(
        settings,
        "SHARER_QUEUE_URL",
        settings.queue_url,
        settings.dead_letter_queue_url,
        visibility_timeout=settings.visibility_timeout,
        max_receives=settings.max_receives,
    )


def open_webhook_queue(settings: CommonSettings) -> Queue:
    """The webhook events' own queue (``SHARER_WEBHOOK_QUEUE_URL``), as ``open_queue``."""
    return _queue(
        settings,
        "SHARER_WEBHOOK_QUEUE_URL",
        settings.webhook_queue_url,
        settings.webhook_dead_letter_queue_url,
        visibility_timeout=WEBHOOK_VISIBILITY_SECONDS,
        max_receives=WEBHOOK_MAX_RECEIVES,
    )


def open_webhook_events(settings: CommonSettings) -> WebhookEvents:
    """Events queued for ``sharer-webhooks`` when ``SHARER_WEBHOOK_URL`` is set, else none."""
    if settings.webhook_url is None:
        return NoWebhookEvents()
    return QueuedWebhookEvents(open_webhook_queue(settings))


def _queue(
    settings: CommonSettings,
    name: str,
    url: str,
    dead_letter_url: str | None,
    *,
    visibility_timeout: int,
    max_receives: int,
) -> Queue:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return SqliteQueue(
            _local_path(url), visibility_timeout=visibility_timeout, max_receives=max_receives
        )
    if parts.scheme in ("http", "https"):
        if dead_letter_url is None:
            dead_letter_name = name.replace("_QUEUE_URL", "_DEAD_LETTER_QUEUE_URL")
            raise SettingsError(f"{dead_letter_name}: required with an SQS queue")
        return SqsQueue(
            sqs_client(settings), url, dead_letter_url, visibility_timeout=visibility_timeout
        )
    raise SettingsError(f"{name}={url!r}: unsupported queue")


def open_status_wakeups(settings: CommonSettings) -> StatusWakeups:
    """Datagrams beside the SQLite queue's database (its processes share one machine);
    with SQS, no wake-ups: waiting requests re-read the status record now and then."""
    if urlsplit(settings.queue_url).scheme == "sqlite":
        database = _local_path(settings.queue_url)
        return DatagramStatusWakeups(database.with_name(f"{database.name}.status-wake"))
    return RecheckingStatusWakeups()


def _local_path(url: str) -> Path:
    # CommonSettings.read has made sure it is a local absolute path.
    return Path(unquote(urlsplit(url).path))


def open_edge_cache(settings: CommonSettings) -> EdgeCache:
    """CloudFront when ``SHARER_CDN_DISTRIBUTION_ID`` is set, otherwise no edge cache."""
    if settings.cdn_distribution_id is None:
        return NoEdgeCache()
    return CloudFrontEdgeCache(cloudfront_client(settings), settings.cdn_distribution_id)


def open_api_keys(settings: CommonSettings) -> ApiKeys:
    """``sqlite:///abs/path`` -> SqliteApiKeys; ``dynamodb://table`` -> DynamoApiKeys."""
    parts = urlsplit(settings.quota_store_url)
    if parts.scheme == "dynamodb":
        return DynamoApiKeys(dynamodb_client(settings), parts.netloc)
    return SqliteApiKeys(_local_path(settings.quota_store_url))


def open_quota_counters(settings: CommonSettings) -> QuotaCounters:
    """The counters beside the API keys, in the store ``SHARER_QUOTA_STORE_URL`` names."""
    parts = urlsplit(settings.quota_store_url)
    if parts.scheme == "dynamodb":
        return DynamoQuotaCounters(dynamodb_client(settings), parts.netloc)
    return SqliteQuotaCounters(_local_path(settings.quota_store_url))
