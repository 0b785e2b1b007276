"""The upload path's physical limit: a WSGI app that only reads the body and writes it to disk.

It is served as the service is (``server.transport.processes.serve``: nginx in front of
``server.transport.gunicorn_app.SharerGunicorn``, the same worker class, process and
thread counts, timeouts and hooks), so the benchmark's ratio between the two isolates
what the service does with an upload beyond receiving it and storing it durably:
multipart parsing, inspection, the status record and the queue.

Each body goes to its own new file under ``BARE_WSGI_DIR``, written and fsynced before the
202, as the service stores an original before it answers (one fsync of the file; the
service also fsyncs the directory, the status record and the queue's commit).

    SHARER_BIND=127.0.0.1:8081 BARE_WSGI_DIR=/tmp/bare .venv/bin/python bench/bare_wsgi.py
"""

import os
import secrets
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from server.transport.gunicorn_app import SharerGunicorn
from server.transport.processes import serve
from sharer.settings import ServerSettings

CHUNK = 64 * 1024
ANSWER = b'{"stored": true}'

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def make_app(directory: Path) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI app storing each request body as a new fsynced file in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ["wsgi.input"]
        with (directory / secrets.token_hex(16)).open("xb") as file:
            while remaining > 0:
                chunk = stream.read(min(remaining, CHUNK))
                if not chunk:
                    break
                file.write(chunk)
                remaining -= len(chunk)
            file.flush()
            os.fsync(file.fileno())
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))]
        start_response("202 Accepted", headers)
        return [ANSWER]

    return app


class BareServer(SharerGunicorn):
    """The service's gunicorn setup serving the bare app instead of Flask."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        super().__init__(ServerSettings.from_env())

    def load(self) -> Any:
        return make_app(self.directory)


def main() -> None:
    """Serve until SIGTERM on ``SHARER_BIND``, storing bodies under ``BARE_WSGI_DIR``
    (``--gunicorn``: be the gunicorn behind nginx)."""
    directory = os.environ.get("BARE_WSGI_DIR")
    if not directory:
        sys.exit("bare_wsgi: set BARE_WSGI_DIR to the directory for the bodies")
    if sys.argv[1:] == ["--gunicorn"]:
        BareServer(Path(directory)).run()
    else:
        sys.exit(serve(ServerSettings.from_env(), (sys.executable, __file__, "--gunicorn")))


if __name__ == "__main__":
    main()
