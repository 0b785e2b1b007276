"""Fault injection for tests that run the real processes.

- ``FaultProxy``: an HTTP proxy on loopback in front of moto's server (or of our own
  server, for its clients). A process pointed at it (``SHARER_AWS_ENDPOINT_URL``) talks
  to S3 and SQS as usual until a test tells the proxy to answer chosen requests with an
  error (throttling, 503) or to hold them back.
- ``loop_symlink``: a path that fails every access with ELOOP, an I/O error that is
  neither "missing" nor "denied" (root ignores permissions), for the local storage.
- ``sqlite_write_lock``: another process holding the SQLite queue's write lock, as a
  stuck or crashed writer would.
"""

import http.client
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

# Headers that belong to one hop, never forwarded (the proxy closes every connection).
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "expect", "host", "proxy-connection"}
)


@dataclass(frozen=True)
class ProxiedRequest:
    """What a rule sees of a request: method, path and (lower-cased) headers."""

    method: str
    path: str
    headers: dict[str, str]

    @property
    def sqs_action(self) -> str | None:
        """The SQS operation (JSON protocol names it in X-Amz-Target), or None."""
        target = self.headers.get("x-amz-target", "")
        return target.removeprefix("AmazonSQS.") if target.startswith("AmazonSQS.") else None

    def is_s3_object(self, bucket: str, key_prefix: str = "") -> bool:
        """A path-style S3 request for an object of ``bucket`` under ``key_prefix``."""
        return self.sqs_action is None and self.path.startswith(f"/{bucket}/{key_prefix}")


@dataclass(frozen=True)
class Fault:
    """What the proxy does to a matching request: wait ``delay`` seconds, then either
    forward it (``status`` None) or answer ``status`` with ``body`` (and ``headers``)
    itself. With ``drop_answer`` it forwards the request, waits for the answer and hangs
    up without relaying it: the client cannot know whether it was done."""

    status: int | None = None
    body: bytes = b""
    content_type: str = "application/octet-stream"
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
    drop_answer: bool = False


def forward(
    upstream: tuple[str, int], method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send one request on a new connection to ``upstream``; its status, end-to-end
    headers and body (none for HEAD)."""
    connection = http.client.HTTPConnection(*upstream, timeout=60)
    try:
        forwarded = {k: v for k, v in headers.items() if k not in _HOP_BY_HOP}
        connection.request(method, path, body, forwarded)
        response = connection.getresponse()
        relayed = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        return response.status, relayed, b"" if method == "HEAD" else response.read()
    finally:
        connection.close()


def answer(
    handler: BaseHTTPRequestHandler,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    close: bool,
) -> None:
    """Write a relayed answer; ``close`` ends the client's connection after it."""
    handler.send_response(status)
    length = str(len(body))
    for name, value in headers:
        if name.lower() != "content-length":
            handler.send_header(name, value)
        elif handler.command == "HEAD":
            length = value  # a HEAD answer declares the length it did not send
    handler.send_header("Content-Length", length)
    if close:
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
    handler.close_connection = close


def s3_slow_down() -> Fault:
    """S3's throttling answer (botocore retries it, then raises ``SlowDown``)."""
    body = (
        b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
    )
    return Fault(503, body, "application/xml")


def sqs_throttled() -> Fault:
    """SQS's throttling answer in its JSON protocol."""
    body = b'{"__type":"com.amazonaws.sqs#RequestThrottled","message":"Rate exceeded"}'
    return Fault(400, body, "application/x-amz-json-1.0")


def service_busy(retry_after: int, message: str = "the service is briefly unavailable") -> Fault:
    """Our own server's 503 (as it answers when a backend is down), for its clients."""
    body = json.dumps({"error": message}).encode()
    return Fault(503, body, "application/json", headers=(("Retry-After", str(retry_after)),))


def answer_lost() -> Fault:
    """The request is done upstream and its answer never reaches the client."""
    return Fault(drop_answer=True)


def held(seconds: float) -> Fault:
    """Forward the request only after ``seconds``: a slow backend."""
    return Fault(delay=seconds)


class LoopbackProxy:
    """A threaded HTTP server on 127.0.0.1 relaying to ``upstream`` (a context manager);
    a subclass gives the request handler."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The endpoint to give a process instead of moto's."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class FaultProxy(LoopbackProxy):
    """A threaded proxy to ``upstream``; ``inject`` sets the one rule it applies."""

    def __init__(self, upstream: str) -> None:
        self._lock = threading.Lock()
        self._rule: tuple[Callable[[ProxiedRequest], bool], Fault] | None = None
        self._hits = 0
        # Set whenever no rule holds requests back, so held requests go on at once.
        self._released = threading.Event()
        super().__init__(upstream)

    @property
    def hits(self) -> int:
        """How many requests the current rule has matched."""
        with self._lock:
            return self._hits

    def inject(self, matches: Callable[[ProxiedRequest], bool], fault: Fault) -> None:
        """From now on apply ``fault`` to requests for which ``matches`` is true."""
        with self._lock:
            self._rule, self._hits = (matches, fault), 0
            self._released.clear()

    def heal(self) -> None:
        """Forward everything untouched again, including requests being held back now."""
        with self._lock:
            self._rule, self._hits = None, 0
            self._released.set()

    def __exit__(self, *_: object) -> None:
        self.heal()
        super().__exit__()

    def _fault_for(self, request: ProxiedRequest) -> Fault | None:
        with self._lock:
            if self._rule is None or not self._rule[0](request):
                return None
            self._hits += 1
            return self._rule[1]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                if "chunked" in headers.get("transfer-encoding", ""):
                    self.send_error(501, "the fault proxy does not relay chunked bodies")
                    return
                body = self.rfile.read(int(headers.get("content-length", "0")))
                fault = proxy._fault_for(ProxiedRequest(self.command, self.path, headers))
                if fault is not None:
                    proxy._released.wait(fault.delay)
                if fault is not None and fault.drop_answer:
                    forward(proxy._upstream, self.command, self.path, headers, body)
                    self.close_connection = True  # hang up, answering nothing
                    return
                if fault is not None and fault.status is not None:
                    answer_headers = [("Content-Type", fault.content_type), *fault.headers]
                    self._answer(fault.status, answer_headers, fault.body)
                    return
                self._answer(*forward(proxy._upstream, self.command, self.path, headers, body))

            def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                answer(self, status, headers, body, close=True)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay  # noqa: N815 (stdlib names)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test's own assertions say what matters."""

        return Handler


def loop_symlink(path: Path) -> Path:
    """Make ``path`` a symlink to itself: every access through it fails with ELOOP."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(path.name)
    return path


@contextmanager
def sqlite_write_lock(database: Path) -> Iterator[None]:
    """Hold the write lock of ``database`` (as a stuck writer would) until the block ends."""
    db = sqlite3.connect(database, isolation_level=None, timeout=10)
    try:
        db.execute("BEGIN EXCLUSIVE")
        yield
        db.execute("ROLLBACK")
    finally:
        db.close()
