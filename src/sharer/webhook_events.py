"""Webhook events: what happened to an image, queued for ``sharer-webhooks`` to deliver.

Each event is a JSON payload ``{"type", "timestamp", "data"}`` (``data``: the image's
status document) with an id of its own. Both are fixed when the event is queued, so every
retry sends the same bytes with the same ``webhook-id`` (receivers deduplicate by it).
Queueing is cheap and never waits for the receiver: a slow or failing receiver delays
only its own deliveries, never thumbnails.
"""

import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sharer.expiry import rfc3339
from sharer.queues import Queue


class EventType(StrEnum):
    """The events a receiver may be sent."""

    READY = "image.ready"
    FAILED = "image.failed"
    DELETED = "image.deleted"
    EXPIRED = "image.expired"


@dataclass(frozen=True)
class QueuedEvent:
    """One event as it waits in the webhook queue: its id, when it happened, its payload."""

    webhook_id: str
    timestamp: int
    payload: str


def new_event(event_type: EventType, data: Mapping[str, object], now: float) -> QueuedEvent:
    """A fresh event of ``event_type`` about ``data`` (a status document), happening now."""
    timestamp = int(now)
    payload = json.dumps(
        {"type": event_type.value, "timestamp": rfc3339(timestamp), "data": dict(data)},
        separators=(",", ":"),
    )
    return QueuedEvent(f"msg_{secrets.token_urlsafe(18)}", timestamp, payload)


def encode_event(event: QueuedEvent) -> str:
    """The queue message of ``event``."""
    return json.dumps(
        {"webhook_id": event.webhook_id, "timestamp": event.timestamp, "payload": event.payload}
    )


def decode_event(body: str) -> QueuedEvent:
    """Parse a queue message; ``ValueError`` if it is not one of ours."""
    doc = json.loads(body)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    webhook_id, timestamp, payload = (doc.get(k) for k in ("webhook_id", "timestamp", "payload"))
    if not (isinstance(webhook_id, str) and type(timestamp) is int and isinstance(payload, str)):
        raise ValueError("webhook_id, timestamp or payload missing or of the wrong type")
    return QueuedEvent(webhook_id, timestamp, payload)


class WebhookEvents(ABC):
    """Where the processes that change an image announce it."""

    @abstractmethod
    def emit(self, event_type: EventType, data: Mapping[str, object]) -> None:
        """Queue one event; raises ``QueueUnavailable`` if the queue did not take it."""


class NoWebhookEvents(WebhookEvents):
    """No receiver is configured: nothing is announced."""

    def emit(self, event_type: EventType, data: Mapping[str, object]) -> None:
        """Nobody listens, so nothing is queued."""


class QueuedWebhookEvents(WebhookEvents):
    """Events go into the webhook queue, durably, for ``sharer-webhooks``."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    def emit(self, event_type: EventType, data: Mapping[str, object]) -> None:
        """Queue the event; it is durable once this returns."""
        self._queue.send(encode_event(new_event(event_type, data, time.time())))
