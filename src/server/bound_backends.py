"""The app's settings and backends, as bound by ``create_app`` (one place to look them up)."""

from dataclasses import dataclass
from typing import cast

from flask import Flask, current_app

from server.pending_waits import PendingWaits
from server.proof_slots import ProofSlots
from sharer.edge_cache import EdgeCache
from sharer.queues import Queue
from sharer.settings import ServerSettings
from sharer.storage import Storage
from sharer.webhook_events import WebhookEvents

# The key of the bound backends in ``Flask.extensions``.
_EXTENSION = "sharer"


@dataclass(frozen=True)
class BoundBackends:
    """What the request handlers of one app use: its settings, its backends, the waits for
    pending images, the bound on costly decode proofs, and where events are announced."""

    settings: ServerSettings
    storage: Storage
    queue: Queue
    edge_cache: EdgeCache
    waits: PendingWaits
    proof_slots: ProofSlots
    events: WebhookEvents


def bind_backends(
    app: Flask,
    settings: ServerSettings,
    storage: Storage,
    queue: Queue,
    edge_cache: EdgeCache,
    waits: PendingWaits,
    proof_slots: ProofSlots,
    events: WebhookEvents,
) -> None:
    """Attach the settings and backends to ``app`` for the request handlers."""
    app.extensions[_EXTENSION] = BoundBackends(
        settings=settings,
        storage=storage,
        queue=queue,
        edge_cache=edge_cache,
        waits=waits,
        proof_slots=proof_slots,
        events=events,
    )


def current_backends() -> BoundBackends:
    """Everything bound to the app handling the current request."""
    return cast(BoundBackends, current_app.extensions[_EXTENSION])


def current_settings() -> ServerSettings:
    """The server settings of the app handling the current request."""
    return current_backends().settings


def current_storage() -> Storage:
    """Storage of the app handling the current request."""
    return current_backends().storage


def current_queue() -> Queue:
    """Queue of the app handling the current request."""
    return current_backends().queue


def current_edge_cache() -> EdgeCache:
    """The CDN caches in front of the images, for the app handling the current request."""
    return current_backends().edge_cache


def current_waits() -> PendingWaits:
    """The waits for pending images of the app handling the current request."""
    return current_backends().waits


def current_proof_slots() -> ProofSlots:
    """The bound on costly decode proofs of the process handling the current request."""
    return current_backends().proof_slots


def current_events() -> WebhookEvents:
    """Where the app handling the current request announces what happened to an image."""
    return current_backends().events
