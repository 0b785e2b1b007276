"""An HTTP proxy on loopback that puts a network's latency between the service and moto.

Each request waits ``one_way_s`` before it is forwarded and its answer ``one_way_s`` before
it is returned, so every round trip costs ``2 * one_way_s`` as it would to a real S3 or
SQS endpoint; the first request on a new client connection waits one round trip more,
for the TCP handshake a reused connection does not pay (TLS would add more). Client
connections are kept alive as long as the client keeps them.

Every request is logged (operation, connection, whether it opened the connection, when
it arrived and when its answer went back), so ``sequential_round_trips`` can count the
round trips one upload or one job waited through, from what was sent, not from what the
code is believed to do.
"""

import itertools
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from support.faults import LoopbackProxy, answer, forward


@dataclass(frozen=True)
class Exchange:
    """One proxied request: its operation (``SendMessage``, ``PUT /bucket/key``...), its
    connection, whether it was the connection's first, and its span in monotonic seconds."""

    operation: str
    connection: int
    opened: bool
    began: float
    ended: float


def sequential_round_trips(exchanges: list[Exchange]) -> int:
    """Round trips waited through one after another: overlapping requests count once, a
    request that opened its connection counts twice (the handshake)."""
    groups: list[list[Exchange]] = []
    for exchange in sorted(exchanges, key=lambda e: e.began):
        if groups and exchange.began < max(e.ended for e in groups[-1]):
            groups[-1].append(exchange)
        else:
            groups.append([exchange])
    return sum(1 + any(e.opened for e in group) for group in groups)


class LatencyProxy(LoopbackProxy):
    """A threaded keep-alive proxy to ``upstream`` adding ``one_way_s`` each way."""

    def __init__(self, upstream: str, one_way_s: float) -> None:
        self.one_way_s = one_way_s
        self._lock = threading.Lock()
        self._log: list[Exchange] = []
        self._connections = itertools.count(1)
        super().__init__(upstream)

    def exchanges(self) -> list[Exchange]:
        """Every request proxied so far, in the order their answers went back."""
        with self._lock:
            return list(self._log)

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._log.append(exchange)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            connection_id = 0

            def _relay(self) -> None:
                opened = self.connection_id == 0
                if opened:
                    self.connection_id = next(proxy._connections)
                headers = {k.lower(): v for k, v in self.headers.items()}
                body = self.rfile.read(int(headers.get("content-length", "0")))
                began = time.monotonic()
                target = headers.get("x-amz-target", "")
                operation = (
                    target.removeprefix("AmazonSQS.")
                    if target
                    else f"{self.command} {self.path.split('?')[0]}"
                )
                time.sleep(proxy.one_way_s * (3 if opened else 1))
                relayed = forward(proxy._upstream, self.command, self.path, headers, body)
                time.sleep(proxy.one_way_s)
                answer(self, *relayed, close=False)
                proxy._record(
                    Exchange(operation, self.connection_id, opened, began, time.monotonic())
                )

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay  # noqa: N815 (stdlib names)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the log of exchanges says what happened."""

        return Handler
