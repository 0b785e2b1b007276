"""Gunicorn hooks that act before the app sees a request."""

from collections.abc import Callable
from typing import Any

from server.app import max_request_bytes
from sharer.settings import Settings


def refuse_oversized_before_continue(settings: Settings) -> Callable[[Any, Any], None]:
    """A ``pre_request`` hook: no ``100 Continue`` for a body we will refuse.

    Gunicorn answers ``Expect: 100-continue`` as soon as it has parsed the headers, which
    would invite the client to send a body we are about to refuse with 413. When the
    declared length is already too large, we withhold the 100 so the client gets the 413
    without sending anything.
    """
    limit = max_request_bytes(settings)

    def hook(worker: Any, req: Any) -> None:
        for name, value in req.headers:
            if name == "CONTENT-LENGTH" and value.isdigit() and int(value) > limit:
                req._expected_100_continue = False  # gunicorn has no public switch for this

    return hook
