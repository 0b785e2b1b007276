"""The Flask application factory: nothing is built at import time."""

import io
from typing import IO, Any

from flask import Flask, Request
from werkzeug.formparser import FormDataParser

from server.context import bind_backends
from server.delete_route import delete_blueprint
from server.errors import init_error_handlers
from server.health_route import health_blueprint
from server.media_route import media_blueprint
from server.openapi_route import openapi_blueprint
from server.pages import pages_blueprint
from server.pending_waits import PendingWaits, init_pending_waits
from server.request_context import init_request_context
from server.sharex_route import sharex_blueprint
from server.status_route import status_blueprint
from server.upload_route import upload_blueprint
from sharer.backends import open_edge_cache, open_queue, open_status_wakeups, open_storage
from sharer.edge_cache import EdgeCache
from sharer.queues import Queue
from sharer.settings import Settings, load_settings
from sharer.status_wakeups import StatusWakeups
from sharer.storage import Storage

# Room for the multipart framing around an image of exactly the maximum size: boundary
# lines, part headers (a long filename) and the closing boundary.
MULTIPART_ALLOWANCE = 16 * 1024
# A legitimate upload has one file part and perhaps a few small fields.
MAX_FORM_PARTS = 16
# Bound on text fields and on the parser's buffer; Werkzeug feeds the multipart parser
# 64 KiB at a time, so the bound must exceed that.
MAX_FORM_MEMORY = 128 * 1024


class StrictFormDataParser(FormDataParser):
    """Raises ``ValueError`` on a malformed multipart body (no boundary, cut short, no
    closing boundary) where Werkzeug's default returns an empty form, so the client is
    told what is wrong rather than that the form has no image."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **(kwargs | {"silent": False}))


class SharerRequest(Request):
    """Flask's request, with the strict form parser and file parts kept in memory."""

    form_data_parser_class = StrictFormDataParser

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        # Werkzeug spools a part over 500 KB to a temporary file on disk. The whole body
        # is capped at ``max_request_bytes`` before it is read, so memory is bounded, and
        # the image is stored and inspected from memory anyway.
        return io.BytesIO()


def max_request_bytes(settings: Settings) -> int:
    """The largest request body we read: one image of the maximum size, in its form."""
    return settings.max_upload_bytes + MULTIPART_ALLOWANCE


def create_app(
    settings: Settings | None = None,
    *,
    storage: Storage | None = None,
    queue: Queue | None = None,
    edge_cache: EdgeCache | None = None,
    status_wakeups: StatusWakeups | None = None,
) -> Flask:
    """Build the app from ``settings`` (the environment's by default).

    ``storage``, ``queue``, ``edge_cache`` and ``status_wakeups`` replace the backends the
    settings name (tests pass fakes).
    """
    settings = settings or load_settings()
    app = Flask(__name__)
    app.request_class = SharerRequest
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
        storage or open_storage(settings),
        queue or open_queue(settings),
        edge_cache or open_edge_cache(settings),
        PendingWaits(
            status_wakeups or open_status_wakeups(settings),
            max_seconds=settings.max_wait_seconds,
            waiters=settings.waiters_per_process,
        ),
    )
    init_request_context(app)
    init_error_handlers(app)
    init_pending_waits(app)
    app.register_blueprint(upload_blueprint)
    app.register_blueprint(status_blueprint)
    app.register_blueprint(delete_blueprint)
    app.register_blueprint(health_blueprint)
    app.register_blueprint(pages_blueprint)
    app.register_blueprint(openapi_blueprint)
    app.register_blueprint(sharex_blueprint)
    if settings.serves_media:
        app.register_blueprint(media_blueprint)
    return app
