"""The Flask application factory: nothing is built at import time."""

from flask import Flask

from server.bound_backends import bind_backends
from server.delete_route import delete_blueprint
from server.errors import init_error_handlers
from server.health_route import health_blueprint
from server.media_route import media_blueprint
from server.metrics_route import metrics_blueprint
from server.openapi_route import openapi_blueprint
from server.pages import pages_blueprint
from server.pending_waits import PendingWaits, init_pending_waits
from server.proof_slots import ProofSlots
from server.request_log import init_request_log
from server.service_metrics import init_service_metrics
from server.sharex_route import sharex_blueprint
from server.status_route import status_blueprint
from server.upload_admission import admission_blueprint, admission_enabled
from server.upload_quotas import init_upload_quotas
from server.upload_route import upload_blueprint
from sharer.api_keys import ApiKeys
from sharer.backends import (
    open_api_keys,
    open_edge_cache,
    open_queue,
    open_quota_counters,
    open_status_wakeups,
    open_storage,
    open_webhook_events,
)
from sharer.descriptions import MAX_DESCRIPTION_BYTES
from sharer.edge_cache import EdgeCache
from sharer.queues import Queue
from sharer.quota_counters import QuotaCounters
from sharer.settings import ServerSettings
from sharer.status_wakeups import StatusWakeups
from sharer.storage import Storage
from sharer.webhook_events import WebhookEvents

# Room for the multipart framing around an image of exactly the maximum size: boundary
# lines, part headers (a long filename), the closing boundary, and the longest
# description the form may carry.
MULTIPART_ALLOWANCE = 16 * 1024 + MAX_DESCRIPTION_BYTES
# A legitimate upload has one file part and perhaps a few small fields.
MAX_FORM_PARTS = 16
# Bound on a part's headers and on a text field (``server.form_parts``, and Werkzeug's
# parser for any other form).
MAX_FORM_MEMORY = 128 * 1024


def max_request_bytes(settings: ServerSettings) -> int:
    """The largest request body we read: one image of the maximum size, in its form."""
    return settings.max_upload_bytes + MULTIPART_ALLOWANCE


def create_app(
    settings: ServerSettings | None = None,
    *,
    storage: Storage | None = None,
    queue: Queue | None = None,
    edge_cache: EdgeCache | None = None,
    status_wakeups: StatusWakeups | None = None,
    api_keys: ApiKeys | None = None,
    quota_counters: QuotaCounters | None = None,
    events: WebhookEvents | None = None,
) -> Flask:
    """Build the app from ``settings`` (the environment's by default).

    ``storage``, ``queue``, ``edge_cache``, ``status_wakeups``, ``api_keys``,
    ``quota_counters`` and ``events`` replace the backends the settings name (tests pass
    fakes).
    """
    settings = settings or ServerSettings.from_env()
    common = settings.common
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=max_request_bytes(settings),
        MAX_FORM_MEMORY_SIZE=MAX_FORM_MEMORY,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Werkzeug would answer a path with "//" by a redirect it builds from the Host header,
    # and OPTIONS by an empty HTML page; here the one is a JSON 404, the other a JSON 405.
    app.url_map.merge_slashes = False
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    bind_backends(
        app,
        settings,
        storage or open_storage(common),
        queue or open_queue(common),
        edge_cache or open_edge_cache(common),
        PendingWaits(
            status_wakeups or open_status_wakeups(common),
            max_seconds=settings.max_wait_seconds,
            waiters=settings.waiters_per_process,
        ),
        ProofSlots(settings.costly_proofs_per_process, waiters=settings.costly_proof_waiters),
        events or open_webhook_events(common),
    )
    init_request_log(app)
    init_service_metrics(app)
    init_upload_quotas(
        app, api_keys or open_api_keys(common), quota_counters or open_quota_counters(common)
    )
    init_error_handlers(app)
    init_pending_waits(app)
    app.register_blueprint(upload_blueprint)
    app.register_blueprint(status_blueprint)
    app.register_blueprint(delete_blueprint)
    app.register_blueprint(health_blueprint)
    app.register_blueprint(pages_blueprint)
    app.register_blueprint(openapi_blueprint)
    app.register_blueprint(sharex_blueprint)
    app.register_blueprint(metrics_blueprint)
    if common.serves_media:
        app.register_blueprint(media_blueprint)
    if admission_enabled(settings):
        app.register_blueprint(admission_blueprint)
    return app
