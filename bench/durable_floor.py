"""The durable floor: a WSGI app doing only the durable writes the service does per upload.

It stores the request body as an original with its pending status (one ``put_all``) and
sends the job's message, with the service's own storage and queue adapters from the same
settings, behind the service's nginx and gunicorn configuration
(``server.transport.processes.serve``, ``server.transport.gunicorn_app.SharerGunicorn``).
No multipart, no inspection, no Flask. The service's server CPU per upload over this
one's is what the upload route costs beyond the writes the design requires.

    SHARER_BIND=127.0.0.1:8082 SHARER_DATA_DIR=/tmp/floor .venv/bin/python bench/durable_floor.py
"""

import sys
from collections.abc import Callable, Iterable
from typing import Any

from bare_wsgi import ANSWER, StartResponse

from server.transport.gunicorn_app import SharerGunicorn
from server.transport.processes import serve
from sharer.backends import open_queue, open_storage
from sharer.formats import JPEG
from sharer.ids import new_image_id
from sharer.key_scheme import status_key
from sharer.messages import encode_job, job_for_upload
from sharer.settings import ServerSettings
from sharer.status import encode_status, status_for_job
from sharer.storage import NewObject


def make_app(
    settings: ServerSettings,
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI app storing each body as an original, its status, and its queued job."""
    storage, queue = open_storage(settings.common), open_queue(settings.common)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # One read, as the upload route reads a body of declared length.
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
        storage.put_all(
            [
                NewObject(job.original_key, body, JPEG.media_type),
                NewObject(
                    status_key(job.image_id),
                    encode_status(status_for_job(job)),
                    "application/json",
                    immutable=False,
                ),
            ]
        )
        queue.send(encode_job(job))
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))]
        start_response("202 Accepted", headers)
        return [ANSWER]

    return app


class FloorServer(SharerGunicorn):
    """The service's gunicorn setup serving the durable floor instead of Flask."""

    def load(self) -> Any:
        return make_app(self.settings)


def main() -> None:
    """Serve until SIGTERM on ``SHARER_BIND``, storing under the settings' backends
    (``--gunicorn``: be the gunicorn behind nginx)."""
    if sys.argv[1:] == ["--gunicorn"]:
        FloorServer(ServerSettings.from_env()).run()
    else:
        sys.exit(serve(ServerSettings.from_env(), (sys.executable, __file__, "--gunicorn")))


if __name__ == "__main__":
    main()
