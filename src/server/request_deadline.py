"""A gunicorn worker whose threads never wait on a client.

Gunicorn's ``gthread`` worker (27.0) hands each accepted connection to a pool thread,
which reads the request with blocking ``recv`` calls, and queues connections FIFO in
front of its threads. A client trickling its headers or body one byte a second holds a
thread as long as it likes, and a few such clients queue everyone else behind them; a
deadline counted from when a thread takes the request counts none of that queueing.

This worker keeps gunicorn's pool and its request handling, and changes who reads:

- The main loop reads every request itself, non-blocking, as its bytes arrive
  (``server.request_framing`` says where it ends), and hands it to a thread only once
  it is complete: its headers, and its body up to the upload limit. A body declared
  over the limit is handed over at once, unread, so it is refused with 413 before a
  byte of it is read; ``Expect: 100-continue`` is answered by the loop, and only for a
  body within the limit.
- Every request has a deadline counted from accept (from its first byte on a kept-alive
  connection), covering reading, handling and answering. A request still arriving at its
  deadline is answered 408 by the loop; one still in a thread has its socket shut down,
  which makes a blocked ``send`` return at once.
- Concurrent connections per client address are bounded (``max_connections_per_client``);
  behind proxies the bound counts requests per forwarded address instead.
- Closing connections linger (reading what the client still sends, so that the kernel
  does not reset an answer in flight) in the main loop, not in a thread.
- An answer given before the body was read says ``Connection: close``, and gunicorn's
  own errors (400, 414, 431, 501...) are JSON with an ``X-Request-Id``, like the app's.

A slow client so costs a connection (a file descriptor and the bytes it has sent, at
most the upload limit), never a thread.
"""

import contextlib
import errno
import json
import logging
import selectors
import socket
import threading
import time
from collections import Counter
from functools import partial
from http import HTTPStatus
from typing import Any

from gunicorn.http import errors as http_errors
from gunicorn.http.body import Body, ChunkedReader, EOFReader, LengthReader
from gunicorn.http.wsgi import Response
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker
from werkzeug.exceptions import BadRequest

from server.request_framing import Collected, RequestCollector
from server.request_log import REQUEST_ID_HEADER, client_address, usable_request_id

# Lingering over a closing connection: gunicorn's 2 s in all, and a limit on silence: a
# client still sending its body keeps sending, one that waits for us to hang up gets its
# FIN after half a second. The byte bound is far above gunicorn's 64 KiB so that a client
# sending a refused photo of a few MB before it reads gets to read its 413.
LINGER_SECONDS = 2.0
LINGER_BYTES = 16 * 1024 * 1024
LINGER_IDLE_SECONDS = 0.5
# How often the main loop looks for connections past their deadline or idle limit.
SCAN_INTERVAL = 0.25
RECV_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = 1
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

log = logging.getLogger("sharer.server")

WSGIApp = Any


class _Connection(TConn):  # type: ignore[misc]
    """Gunicorn's connection, with the state of the request the main loop is reading."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any) -> None:
        super().__init__(cfg, sock, client, server)
        self.peer = str(client[0]) if isinstance(client, tuple) else "-"
        self.collector: RequestCollector | None = None
        self.buffered = b""  # a complete request, for the thread's parser
        self.due = float("inf")  # when the current request must be done
        self.idle_until = float("inf")  # when a connection with no request is closed
        self.linger_until = float("inf")
        self.quiet_until = float("inf")
        self.drained = 0
        self.client_key: str | None = None  # counted against the per-client bound
        self.registered = False
        self.closed = False


class BufferingThreadWorker(ThreadWorker):  # type: ignore[misc]
    """``gthread`` reading requests in its main loop; limits set by ``buffering_worker``."""

    deadline: float = 30.0
    max_body: int = 1024 * 1024
    max_per_client: int = 0
    forwarded_hops: int = 0
    wsgi: WSGIApp

    def init_process(self) -> None:
        """Set up the connection tables, then run gunicorn's worker loop."""
        self._lock = threading.Lock()
        self._in_threads: dict[_Connection, float] = {}  # connection -> its deadline
        self._waiting: set[_Connection] = set()  # being read by the main loop
        self._lingering: set[_Connection] = set()
        self._clients: Counter[str] = Counter()
        self._next_scan = 0.0
        self._stop_by: float | None = None
        super().init_process()

    def load_wsgi(self) -> None:
        """Load the app, wrapped for unread bodies and broken chunked framing."""
        super().load_wsgi()
        self.wsgi = _guarding_bodies(self.wsgi)

    # The main loop: accepting, reading requests, lingering.

    def accept(self, listener: socket.socket) -> None:
        """Take a new connection and start reading its request in the main loop."""
        try:
            sock, address = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        conn = _Connection(self.cfg, sock, address, listener.getsockname())
        if self.forwarded_hops == 0 and not self._admit(conn, conn.peer):
            return
        self._await_request(conn, b"", due=time.monotonic() + self.deadline)

    def _admit(self, conn: _Connection, key: str) -> bool:
        """Count ``conn`` against its client's bound, or refuse it with 429."""
        if self.max_per_client and self._clients[key] >= self.max_per_client:
            self._answer_and_close(
                conn,
                429,
                "too many connections from your address at once; retry shortly",
                extra_headers=f"Retry-After: {RETRY_AFTER_SECONDS}\r\n",
            )
            return False
        self._clients[key] += 1
        conn.client_key = key
        return True

    def _release(self, conn: _Connection) -> None:
        if conn.client_key is not None:
            self._clients[conn.client_key] -= 1
            if self._clients[conn.client_key] <= 0:
                del self._clients[conn.client_key]
            conn.client_key = None

    def _await_request(
        self, conn: _Connection, read_ahead: bytes, *, due: float | None = None
    ) -> None:
        """Read ``conn``'s next request in the main loop (``read_ahead`` is its start).

        Its deadline is ``due`` (a new connection's: counted from accept), or else counted
        from the request's first byte.
        """
        conn.collector = RequestCollector(max_body=self.max_body)
        conn.sock.setblocking(False)
        now = time.monotonic()
        if read_ahead:
            conn.due = due if due is not None else now + self.deadline
            conn.idle_until = float("inf")
            self._take(conn, read_ahead)
            return
        conn.due = due if due is not None else float("inf")
        conn.idle_until = min(conn.due, now + self.cfg.keepalive)
        self._watch(conn)

    def _watch(self, conn: _Connection) -> None:
        self._waiting.add(conn)
        if not conn.registered:
            self.poller.register(
                conn.sock, selectors.EVENT_READ, partial(self._on_request_bytes, conn)
            )
            conn.registered = True

    def _unwatch(self, conn: _Connection) -> None:
        self._waiting.discard(conn)
        self._lingering.discard(conn)
        if conn.registered:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(conn.sock)
            conn.registered = False

    def _on_request_bytes(self, conn: _Connection, _sock: Any = None) -> None:
        data = _receive(conn.sock)
        if data is None:
            return
        if not data:
            self._close(conn)  # the client left before its request was complete
            return
        if conn.due == float("inf"):
            conn.due = time.monotonic() + self.deadline
        conn.idle_until = float("inf")
        self._take(conn, data)

    def _take(self, conn: _Connection, data: bytes) -> None:
        """Feed ``data`` to ``conn``'s request and act on it, whatever the bytes are.

        The main loop serves every connection of the process, so an exception escaping it
        would kill the process and every request in flight on it: any failure here is
        this one client's, answered 400 and closed, and logged once.
        """
        try:
            assert conn.collector is not None
            self._progress(conn, conn.collector.feed(data))
        except Exception:
            log.exception(
                "could not read a request; refused it",
                extra={"client": conn.client_key or conn.peer, "status": 400},
            )
            if not conn.closed:
                self._answer_and_close(
                    conn, 400, "the request is not well-formed HTTP/1.1", logged=True
                )

    def _progress(self, conn: _Connection, collected: Collected) -> None:
        """Act on what the collector says of ``conn``'s request."""
        collector = conn.collector
        assert collector is not None
        if self.forwarded_hops and collector.head_complete and conn.client_key is None:
            forwarded = collector.header("x-forwarded-for")
            key = client_address(conn.peer, forwarded, self.forwarded_hops)
            if not self._admit(conn, key):
                return
        if collected is Collected.HEAD_TOO_LARGE:
            self._answer_and_close(conn, 431, "the request headers are too large")
        elif collected is Collected.READY:
            self._unwatch(conn)
            conn.buffered = bytes(collector.data)
            conn.collector = None
            self.enqueue_req(conn)
        else:
            if collector.wants_continue:
                try:
                    conn.sock.send(CONTINUE)
                except OSError:
                    self._close(conn)
                    return
            self._watch(conn)

    def _linger(self, conn: _Connection) -> None:
        """Send FIN, then read (bounded) what the client still sends before closing.

        Reading first keeps the kernel from answering leftover request bytes with a reset
        that could destroy the response in flight (RFC 9112, section 9.6).
        """
        self._unwatch(conn)
        self._release(conn)  # answered: it no longer counts against its client's bound
        with contextlib.suppress(OSError):
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)
        now = time.monotonic()
        conn.linger_until = now + LINGER_SECONDS
        conn.quiet_until = now + LINGER_IDLE_SECONDS
        conn.drained = 0
        try:
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_linger, conn))
        except (KeyError, ValueError, OSError):
            self._close(conn)
            return
        conn.registered = True
        self._lingering.add(conn)

    def _on_linger(self, conn: _Connection, _sock: Any = None) -> None:
        data = _receive(conn.sock)
        if data is None:
            return
        conn.drained += len(data)
        if not data or conn.drained > LINGER_BYTES:
            self._close(conn)
        else:
            conn.quiet_until = time.monotonic() + LINGER_IDLE_SECONDS

    def _answer_and_close(
        self,
        conn: _Connection,
        status: int,
        message: str,
        *,
        extra_headers: str = "",
        logged: bool = False,
    ) -> None:
        """Answer from the main loop (a few hundred bytes: they fit the socket's buffer);
        ``logged`` if the caller already wrote the one log line."""
        rid = usable_request_id(None)
        if not logged:
            log.warning(
                message,
                extra={"request_id": rid, "client": conn.client_key or conn.peer, "status": status},
            )
        with contextlib.suppress(OSError):
            conn.sock.send(json_answer(status, message, rid, extra_headers))
        self._linger(conn)

    def _close(self, conn: _Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._unwatch(conn)
        self._release(conn)
        self.nr_conns -= 1
        conn.close()

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """Gunicorn's poll, woken at least every ``SCAN_INTERVAL`` for the deadlines."""
        super().wait_for_and_dispatch_events(min(timeout, SCAN_INTERVAL))

    def murder_pending(self) -> None:
        """Gunicorn's main loop calls this after every poll; deadlines are checked here."""
        now = time.monotonic()
        if now < self._next_scan:
            return
        self._next_scan = now + SCAN_INTERVAL
        if not self.alive and self._stop_by is None:
            # Stopping: a request being read may still finish within its deadline; an
            # idle connection is kept as long as gunicorn keeps its kept-alive ones.
            self._stop_by = now + STOP_KEEPALIVE_LINGER
        for conn in list(self._waiting):
            if conn.idle_until != float("inf"):
                if now >= conn.idle_until or (self._stop_by is not None and now >= self._stop_by):
                    self._close(conn)
            elif now >= conn.due:
                self._answer_and_close(
                    conn, 408, f"the request was not done within {self.deadline:g} s"
                )
        for conn in list(self._lingering):
            if now >= min(conn.linger_until, conn.quiet_until):
                self._close(conn)
        self._cut_overdue(now)

    def _cut_overdue(self, now: float) -> None:
        with self._lock:
            overdue = [conn for conn, due in self._in_threads.items() if due <= now]
            for conn in overdue:
                self._in_threads[conn] = float("inf")  # cut once; handle() removes it
        for conn in overdue:
            self.log.warning(
                "closing connection from %s: request not done within %ss",
                conn.peer,
                self.deadline,
            )
            # OSError: the client went away meanwhile, and the thread is freeing itself.
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def finish_request(self, conn: _Connection, fs: Any) -> None:
        """Back in the main loop after a thread served ``conn``: read on, or close."""
        keep = False
        if not fs.cancelled() and fs.exception() is None:
            keep = bool(fs.result())
        if self.forwarded_hops:
            self._release(conn)  # behind proxies, the bound counts requests
        if conn.sock.fileno() < 0:
            self._close(conn)
        elif keep:
            self._await_request(conn, conn.parser.unreader.take_buffered())
        else:
            self._linger(conn)

    # In a pool thread: the request is complete in memory.

    def handle(self, conn: _Connection) -> Any:
        """Serve the request the main loop collected, under its deadline."""
        with self._lock:
            self._in_threads[conn] = conn.due
        try:
            conn.data_ready = True  # gunicorn's own wait for a first byte: not needed
            conn.init()
            conn.parser.unreader.unread(conn.buffered)
            conn.buffered = b""
            return super().handle(conn)
        finally:
            with self._lock:
                del self._in_threads[conn]

    def handle_request(self, req: Any, conn: _Connection) -> Any:
        """Gunicorn's request handling; ``100 Continue`` was the main loop's to send."""
        req._expected_100_continue = False  # gunicorn has no public switch for this
        return super().handle_request(req, conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Gunicorn's own refusals (and anything escaping the app) as JSON, logged once."""
        status, message = gunicorn_refusal(exc)
        sent = dict(req.headers).get(REQUEST_ID_HEADER.upper()) if req is not None else None
        rid = usable_request_id(sent)
        peer = addr[0] if isinstance(addr, tuple) else "-"
        if status >= 500:
            log.error(
                "error handling request", exc_info=exc, extra={"request_id": rid, "client": peer}
            )
        else:
            log.warning(
                "refused a malformed request",
                extra={"request_id": rid, "client": peer, "status": status, "error": str(exc)},
            )
        with contextlib.suppress(OSError):
            client.sendall(json_answer(status, message, rid))


def _receive(sock: socket.socket) -> bytes | None:
    """What a readable non-blocking socket holds: None if nothing yet, b"" once it is done
    (closed by the client, or reset)."""
    try:
        return sock.recv(RECV_BYTES)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


def json_answer(status: int, message: str, rid: str, extra_headers: str = "") -> bytes:
    """A whole HTTP/1.1 answer, ``{"error": message}``, that closes the connection."""
    body = json.dumps({"error": message}, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{REQUEST_ID_HEADER}: {rid}\r\n"
        "Connection: close\r\n"
        f"{extra_headers}\r\n"
    )
    return head.encode("latin-1") + body


# Gunicorn's parse errors, most specific first, and what the client is told.
_REFUSALS: tuple[tuple[type[BaseException], int, str], ...] = (
    (http_errors.InvalidResponseHeader, 500, "internal server error"),
    (http_errors.InvalidResponseHeaderName, 500, "internal server error"),
    (http_errors.ConfigurationProblem, 500, "internal server error"),
    (http_errors.LimitRequestLine, 414, "the request line is too long"),
    (http_errors.LimitRequestHeaders, 431, "the request headers are too large"),
    (
        http_errors.UnsupportedTransferCoding,
        501,
        "that Transfer-Encoding is not supported: send the body chunked or with a length",
    ),
    (http_errors.ExpectationFailed, 417, "that Expect header cannot be met"),
    (http_errors.InvalidChunkSize, 400, "the chunked request body is malformed"),
    (http_errors.ChunkMissingTerminator, 400, "the chunked request body is malformed"),
    (http_errors.InvalidChunkExtension, 400, "the chunked request body is malformed"),
    (http_errors.ParseException, 400, "the request is not well-formed HTTP/1.1"),
)


def gunicorn_refusal(exc: BaseException) -> tuple[int, str]:
    """The status and public message for an error gunicorn raised (500 for anything else)."""
    for kind, status, message in _REFUSALS:
        if isinstance(exc, kind):
            return status, message
    return 500, "internal server error"


class _GuardedBody:
    """A request body whose framing errors (the client's fault) raise ``BadRequest``."""

    def __init__(self, body: Body) -> None:
        self.body = body

    def _guarded(self, read: Any, *args: Any) -> Any:
        try:
            return read(*args)
        except (http_errors.ParseException, http_errors.NoMoreData) as exc:
            message = gunicorn_refusal(exc)[1]
            raise BadRequest(message) from exc

    def read(self, size: int | None = None) -> bytes:
        """Up to ``size`` bytes of the body."""
        return bytes(self._guarded(self.body.read, size))

    def readline(self, size: int | None = None) -> bytes:
        """One line of the body."""
        return bytes(self._guarded(self.body.readline, size))

    def readlines(self, size: int | None = None) -> list[bytes]:
        """The body's lines."""
        return list(self._guarded(self.body.readlines, size))

    def __iter__(self) -> "_GuardedBody":
        return self

    def __next__(self) -> bytes:
        return bytes(self._guarded(self.body.__next__))


def _guarding_bodies(app: WSGIApp) -> WSGIApp:
    """``app`` with a guarded body, answering ``Connection: close`` when it answers
    before reading the whole body.

    The check runs as the app starts its response, before gunicorn writes the headers,
    so the header and the connection's fate agree.
    """

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        body = environ.get("wsgi.input")
        if isinstance(body, Body):
            environ["wsgi.input"] = _GuardedBody(body)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # Gunicorn hands the app its Response's bound start_response; the WSGI
            # Connection header is hop-by-hop and dropped, so force_close is the way.
            response = getattr(start_response, "__self__", None)
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


def buffering_worker(
    *, deadline: float, max_body: int, max_per_client: int, forwarded_hops: int
) -> type[BufferingThreadWorker]:
    """The worker class to give gunicorn, with its limits."""
    limits = {
        "deadline": float(deadline),
        "max_body": max_body,
        "max_per_client": max_per_client,
        "forwarded_hops": forwarded_hops,
    }
    return type("BufferingThreadWorker", (BufferingThreadWorker,), limits)
