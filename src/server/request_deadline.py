"""A gunicorn ``gthread`` worker that slow, silent or lingering clients cannot tie up.

Three holes in gunicorn's ``gthread`` worker (27.0), each shown by tests/hostile:

1. A new connection gets a pool thread at once, and that thread waits up to 5 s for the
   first byte. Connections that send nothing at all hold every thread in turn: with 4
   threads, 4 idle connections opened every 5 s starve the process.
2. Once bytes arrive, the thread reads the headers and the body with blocking ``recv``
   calls that have no timeout. Gunicorn's ``timeout`` setting does not help: it is a
   heartbeat of the worker's main loop, which keeps beating while every thread is stuck.
   A client trickling its request one byte at a time holds a thread as long as it likes.
3. Closing a connection (``Connection: close``, HTTP/1.0, a body left unread after a
   413), gunicorn lingers up to 2 s for the client to close its side, in the worker's
   main loop, which meanwhile accepts and dispatches nothing: a client that never closes
   freezes the whole process for 2 s per connection.

And a fourth: an answer given before the body was read (a 413 for a body too large) is
sent with ``Connection: keep-alive``, and the next request on that connection first reads
the rest of the refused body, however long it is. A client that sends its whole body
before it reads (most HTTP libraries) waits for that drain, then for its own timeout.

So: a connection with nothing to read waits in the main loop's poller (which closes it
after the keep-alive time) rather than in a thread; every request gets a deadline,
counted from the moment a thread takes it, after which the main loop (checking once a
second) shuts its socket down, which makes the blocked ``recv``/``send`` return at once;
an answer to a request whose body is left unread says ``Connection: close``; and a
connection to be closed lingers in its pool thread, briefly, under that deadline.
"""

import contextlib
import socket
import threading
import time
from typing import Any

from gunicorn.http.body import Body, ChunkedReader, EOFReader, LengthReader
from gunicorn.http.wsgi import Response
from gunicorn.workers.gthread import _DEFER, ThreadWorker

# Lingering over a closing connection: gunicorn's 2 s in all, and a limit on silence: a
# client still sending its body keeps sending, one that waits for us to hang up gets its
# FIN after half a second instead of holding the thread for 2 s. The byte bound is far
# above gunicorn's 64 KiB so that a client sending a refused photo of a few MB before it
# reads gets to read its 413; discarding 16 MiB on a fast link is milliseconds of CPU.
LINGER_SECONDS = 2.0
LINGER_BYTES = 16 * 1024 * 1024
LINGER_IDLE_SECONDS = 0.5

WSGIApp = Any


class DeadlineThreadWorker(ThreadWorker):  # type: ignore[misc]
    """``gthread`` with a per-request deadline of ``deadline`` seconds (set by subclasses)."""

    deadline: float = 30.0
    wsgi: WSGIApp

    def init_process(self) -> None:
        """Set up the deadline table, then run gunicorn's worker loop."""
        self._lock = threading.Lock()
        # connection -> monotonic time by which its current request must be done
        self._due: dict[Any, float] = {}
        super().init_process()

    def load_wsgi(self) -> None:
        """Load the app, wrapped so that answers leaving a body unread close the connection."""
        super().load_wsgi()
        self.wsgi = _closing_unread_bodies(self.wsgi)

    def handle(self, conn: Any) -> Any:
        """Serve one request on ``conn`` (in a pool thread) under the deadline.

        Returns gunicorn's verdict: ``_DEFER`` to wait in the poller for the first byte,
        true to keep the connection alive, false to close it (already lingered over, so
        the main loop's own close does not wait).
        """
        if not conn.initialized and not conn.data_ready and not conn.wait_for_data(0):
            return _DEFER  # gunicorn's sentinel: no byte yet, so no thread either
        with self._lock:
            self._due[conn] = time.monotonic() + self.deadline
        try:
            keep = super().handle(conn)
            if not keep:
                _linger(conn.sock)
            return keep
        finally:
            with self._lock:
                del self._due[conn]

    def murder_pending(self) -> None:
        """Gunicorn's main loop calls this once a second; deadlines are checked with it."""
        super().murder_pending()
        self._cut_overdue()

    def _cut_overdue(self) -> None:
        now = time.monotonic()
        with self._lock:
            overdue = [conn for conn, due in self._due.items() if due <= now]
            for conn in overdue:
                self._due[conn] = float("inf")  # cut once; handle() removes it
        for conn in overdue:
            self.log.warning(
                "closing connection from %s: request not done within %ss",
                conn.client,
                self.deadline,
            )
            # OSError: the client went away meanwhile, and the thread is freeing itself.
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)


def _closing_unread_bodies(app: WSGIApp) -> WSGIApp:
    """``app``, answering ``Connection: close`` when it answers before reading the body.

    The check runs as the app starts its response, before gunicorn writes the headers,
    so the header and the connection's fate agree.
    """

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # Gunicorn hands the app its Response's bound start_response; the WSGI
            # Connection header is hop-by-hop and dropped, so force_close is the way.
            response = getattr(start_response, "__self__", None)
            body = environ.get("wsgi.input")
            if isinstance(response, Response) and isinstance(body, Body) and _body_unread(body):
                response.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return serve


def _body_unread(body: Body) -> bool:
    """Whether part of the request body is still unread (or unknown: then say yes)."""
    reader = body.reader
    if body.buf.tell():
        return True
    if isinstance(reader, LengthReader):
        return bool(reader.length > 0)
    if isinstance(reader, ChunkedReader):
        return reader.parser is not None or bool(reader.buf.tell())
    if isinstance(reader, EOFReader):
        return not reader.finished
    return True


def _linger(sock: socket.socket) -> None:
    """Send FIN, read what the client still sends (bounded), then shut reading too.

    Reading first keeps the kernel from answering leftover request bytes with a reset
    that could destroy the response in flight (RFC 9112, section 9.6). Once reading is
    shut, gunicorn's own linger in the main loop sees end-of-stream at once.
    """
    if sock.fileno() < 0:
        return  # gunicorn already closed it (an error after the response started)
    deadline = time.monotonic() + LINGER_SECONDS
    drained = 0
    with contextlib.suppress(OSError):  # a reset or a timeout just ends the linger
        sock.shutdown(socket.SHUT_WR)
        while drained < LINGER_BYTES and (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(min(remaining, LINGER_IDLE_SECONDS))
            data = sock.recv(4096)
            if not data:
                break
            drained += len(data)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)


def deadline_worker(seconds: float) -> type[DeadlineThreadWorker]:
    """The worker class to give gunicorn, with requests bounded to ``seconds``."""
    return type("DeadlineThreadWorker", (DeadlineThreadWorker,), {"deadline": float(seconds)})
