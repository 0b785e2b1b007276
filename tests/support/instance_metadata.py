"""A fake EC2 instance metadata service on loopback, speaking IMDSv2 as EC2 documents it.

``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds`` gives a token;
every ``GET`` must carry a live one in ``X-aws-ec2-metadata-token`` (else 401). The Spot
paths answer 404 until the test posts a notice (``interrupt``, ``recommend_rebalance``).
"""

import json
import secrets
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INSTANCE_ACTION = "/latest/meta-data/spot/instance-action"
REBALANCE = "/latest/meta-data/events/recommendations/rebalance"


class FakeInstanceMetadata:
    """Start with ``with FakeInstanceMetadata() as imds:``; ``imds.url`` is its base."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.bodies: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, int]] = []
        # Served instead of a real token when set (a broken endpoint).
        self.token_body: bytes | None = None
        # Seconds every answer waits before it is sent (a slow endpoint).
        self.answer_delay = 0.0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
                if self.path != "/latest/api/token" or not ttl.isdigit():
                    self._answer(400, b"")
                    return
                token = secrets.token_urlsafe(16)
                with fake._lock:
                    fake.tokens.add(token)
                    body = fake.token_body
                self._answer(200, token.encode() if body is None else body)

            def do_GET(self) -> None:
                with fake._lock:
                    authorised = self.headers.get("X-aws-ec2-metadata-token") in fake.tokens
                    body = fake.bodies.get(self.path)
                if not authorised:
                    self._answer(401, b"")
                elif body is None:
                    self._answer(404, b"")
                else:
                    self._answer(200, body)

            def _answer(self, status: int, body: bytes) -> None:
                with fake._lock:
                    fake.requests.append((self.command, self.path, status))
                    delay = fake.answer_delay
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeInstanceMetadata":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def interrupt(self, at: float, action: str = "terminate") -> None:
        """Post a Spot interruption notice for the epoch second ``at``."""
        when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.serve(INSTANCE_ACTION, json.dumps({"action": action, "time": when}).encode())

    def recommend_rebalance(self, at: float) -> None:
        """Post a rebalance recommendation noticed at the epoch second ``at``."""
        when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.serve(REBALANCE, json.dumps({"noticeTime": when}).encode())

    def serve(self, path: str, body: bytes) -> None:
        """Answer ``GET path`` with ``body`` from now on."""
        with self._lock:
            self.bodies[path] = body

    def withdraw(self, path: str) -> None:
        """Answer ``GET path`` with 404 again (a notice gone, as after a stop and start)."""
        with self._lock:
            self.bodies.pop(path, None)

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (as after its TTL)."""
        with self._lock:
            self.tokens.clear()

    def token_requests(self) -> int:
        """How many session tokens were asked for so far."""
        with self._lock:
            return sum(1 for method, _, _ in self.requests if method == "PUT")

    def gets(self, path: str) -> list[int]:
        """The statuses of the GETs of ``path`` so far."""
        with self._lock:
            return [status for method, p, status in self.requests if (method, p) == ("GET", path)]
