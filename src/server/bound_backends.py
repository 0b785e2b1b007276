"""The app's settings and backends, as bound by ``create_app`` (one place to look them up)."""

from typing import cast

from flask import Flask, current_app

from server.pending_waits import PendingWaits
from server.proof_slots import ProofSlots
from sharer.edge_cache import EdgeCache
from sharer.queues import Queue
from sharer.settings import ServerSettings
from sharer.storage import Storage
from sharer.webhook_events import WebhookEvents


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
    app.extensions["sharer"] = (settings, storage, queue, edge_cache, waits, proof_slots, events)


def current_settings() -> ServerSettings:
    """ServerSettings of the app handling the current request."""
    return cast(ServerSettings, current_app.extensions["sharer"][0])


def current_storage() -> Storage:
    """Storage of the app handling the current request."""
    return cast(Storage, current_app.extensions["sharer"][1])


def current_queue() -> Queue:
    """Queue of the app handling the current request."""
    return cast(Queue, current_app.extensions["sharer"][2])


def current_edge_cache() -> EdgeCache:
    """The CDN caches in front of the images, for the app handling the current request."""
    return cast(EdgeCache, current_app.extensions["sharer"][3])


def current_waits() -> PendingWaits:
    """The waits for pending images of the app handling the current request."""
    return cast(PendingWaits, current_app.extensions["sharer"][4])


def current_proof_slots() -> ProofSlots:
    """The bound on costly decode proofs of the process handling the current request."""
    return cast(ProofSlots, current_app.extensions["sharer"][5])


def current_events() -> WebhookEvents:
    """Where the app handling the current request announces what happened to an image."""
    return cast(WebhookEvents, current_app.extensions["sharer"][6])
