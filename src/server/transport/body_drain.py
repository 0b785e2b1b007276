"""Each request's unread body drained before its answer starts, between gunicorn and the app.

The app may answer without reading a body it has no use for (a 400 for a form that is not
multipart, say). gunicorn then closes the connection with the body unread, and the kernel
resets it, which can destroy the answer on its way to nginx (which answers 502 instead).
nginx has the whole body already, and bounded by the limit, so draining the rest over the
local socket costs little.
"""

from collections.abc import Callable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Any], Any]
StartResponse = Callable[..., Any]

# Bytes of an unread body read at a time while draining it.
DRAIN_BYTES = 64 * 1024


def draining_bodies(app: WSGIApp) -> WSGIApp:
    """``app``, with the rest of each request's body drained before its answer starts.

    gunicorn writes nothing before the first chunk of the answer, so draining in
    ``start_response`` is early enough.
    """

    def serve(environ: dict[str, Any], start_response: StartResponse) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            body = environ["wsgi.input"]
            while body.read(DRAIN_BYTES):
                pass
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return serve
