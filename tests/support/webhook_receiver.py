"""A webhook receiver on loopback that keeps every request it gets, answers 500 to the
next few of a type when told to, and checks every signature with the reference
``standardwebhooks`` library."""

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Received:
    """One request: its headers (lower-case names), body, and what the verifier said."""

    headers: dict[str, str]
    body: bytes
    answered: int
    verified: bool

    @property
    def event(self) -> dict[str, object]:
        """The payload: ``{"type", "timestamp", "data"}``."""
        doc: dict[str, object] = json.loads(self.body)
        return doc

    @property
    def image_id(self) -> object:
        """The id of the image the event is about."""
        data = self.event["data"]
        assert isinstance(data, dict)
        return data["id"]


class WebhookReceiver:
    """Records requests; ``fail_next(type, n)`` makes it answer 500 to the next ``n``."""

    def __init__(self) -> None:
        self.secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        self._verifier = Webhook(self.secret)
        self._received: list[Received] = []
        self._failures: dict[str, int] = {}
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._record(self, body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        """Where the service sends its webhooks."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        try:
            self._verifier.verify(body, headers)
            verified = True
        except Exception:  # noqa: BLE001 - any refusal is recorded as unverified
            verified = False
        with self._changed:
            kind = str(json.loads(body).get("type")) if verified else ""
            failing = self._failures.get(kind, 0)
            if failing:
                self._failures[kind] = failing - 1
            status = 500 if failing else 204
            self._received.append(Received(headers, body, status, verified))
            self._changed.notify_all()
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def fail_next(self, event_type: str, count: int) -> None:
        """Answer 500 to the next ``count`` events of ``event_type``."""
        with self._changed:
            self._failures[event_type] = count

    def requests_about(self, image_id: str) -> list[Received]:
        """Every request received about the image, in order."""
        with self._changed:
            return [r for r in self._received if r.verified and r.image_id == image_id]

    def unverified(self) -> list[Received]:
        """Requests whose signature the reference library refused."""
        with self._changed:
            return [r for r in self._received if not r.verified]

    def wait_for(self, image_id: str, event_type: str, timeout: float = 30.0) -> Received:
        """The first request about ``image_id`` of ``event_type`` answered 2xx."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for received in self._received:
                    if (
                        received.verified
                        and received.answered < 300
                        and received.image_id == image_id
                        and received.event["type"] == event_type
                    ):
                        return received
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {event_type} for {image_id} in {timeout}s")
                self._changed.wait(remaining)

    @contextmanager
    def serving(self) -> Iterator["WebhookReceiver"]:
        """Serve on a thread for the duration."""
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
