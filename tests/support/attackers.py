"""Cheap attackers on loopback, all driven from one thread: connections that trickle a
request a byte at a time, or sit idle, and reconnect the moment they are cut. And the
ordinary client meanwhile, timing its uploads. Every loop is bounded in time."""

import contextlib
import selectors
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import requests

from support import images

# Headers that never end, and a multipart body of 1 MB that never arrives.
HEADER_START = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
BODY_START = (
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: multipart/form-data; boundary=slow\r\nContent-Length: 1000000\r\n\r\n"
    b"--slow\r\n"
)
IDLE, HEADERS, BODY = "idle", "headers", "body"
_START = {IDLE: b"", HEADERS: HEADER_START, BODY: BODY_START}
CONNECT_TIMEOUT = 2.0


@dataclass
class _Attacker:
    kind: str
    source: str
    sock: socket.socket | None = None
    connected_at: float = 0.0


@dataclass
class Swarm:
    """``counts`` connections of each kind (idle, headers, body) against ``port``, from
    ``sources`` in turn, sending one byte per ``interval`` seconds; ``run`` drives them."""

    port: int
    counts: dict[str, int]
    sources: Sequence[str] = ("127.0.0.1",)
    interval: float = 1.0
    cuts: int = 0  # connections the server closed (each was reopened at once)
    failed_connects: int = 0
    held: list[float] = field(default_factory=list)  # seconds each cut connection lasted
    uncut: list[float] = field(default_factory=list)  # ages of those still open at the end
    uncut_by_kind: dict[str, list[float]] = field(default_factory=dict)  # the same, by kind
    _stop: threading.Event = field(default_factory=threading.Event)

    def _open(self, attacker: _Attacker, selector: selectors.BaseSelector) -> None:
        sock = socket.socket()
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.bind((attacker.source, 0))
            sock.connect(("127.0.0.1", self.port))
            sock.sendall(_START[attacker.kind])
        except OSError:
            sock.close()
            self.failed_connects += 1
            attacker.sock = None
            return
        sock.setblocking(False)
        attacker.sock = sock
        attacker.connected_at = time.monotonic()
        selector.register(sock, selectors.EVENT_READ, attacker)

    def _cut(self, attacker: _Attacker, selector: selectors.BaseSelector) -> None:
        if attacker.sock is not None:
            selector.unregister(attacker.sock)
            attacker.sock.close()
            self.cuts += 1
            self.held.append(time.monotonic() - attacker.connected_at)
        self._open(attacker, selector)

    def run(self, seconds: float) -> None:
        """Attack for ``seconds`` at most (or until ``stop``), then close everything."""
        kinds = [kind for kind, count in self.counts.items() for _ in range(count)]
        attackers = [
            _Attacker(kind, self.sources[n % len(self.sources)]) for n, kind in enumerate(kinds)
        ]
        end = time.monotonic() + seconds
        with selectors.DefaultSelector() as selector:
            for attacker in attackers:
                self._open(attacker, selector)
            next_drip = time.monotonic() + self.interval
            while not self._stop.is_set() and time.monotonic() < end:
                for key, _ in selector.select(min(0.05, self.interval)):
                    # Any answer (a 408, a 429) or end-of-stream means the server let go.
                    self._cut(key.data, selector)
                for attacker in attackers:
                    if attacker.sock is None and not self._stop.is_set():
                        self._open(attacker, selector)  # the last connect failed
                if time.monotonic() >= next_drip:
                    next_drip += self.interval
                    for attacker in attackers:
                        if attacker.kind != IDLE and attacker.sock is not None:
                            try:
                                attacker.sock.send(b"a")
                            except OSError:
                                self._cut(attacker, selector)
            for attacker in attackers:
                if attacker.sock is not None:
                    age = time.monotonic() - attacker.connected_at
                    self.uncut.append(age)
                    self.uncut_by_kind.setdefault(attacker.kind, []).append(age)
                    attacker.sock.close()

    def stop(self) -> None:
        """Ask ``run`` to end."""
        self._stop.set()

    @contextlib.contextmanager
    def attacking(self, seconds: float) -> Iterator["Swarm"]:
        """Run the swarm in a thread for the ``with`` block (``seconds`` at most)."""
        thread = threading.Thread(target=self.run, args=(seconds,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop()
            thread.join(CONNECT_TIMEOUT + 5)


@dataclass
class Probe:
    """What an ordinary client saw: one latency (None: no answer) and status per try."""

    latencies: list[float | None] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    @property
    def answered(self) -> list[float]:
        """The latencies of the tries that got an answer."""
        return [latency for latency in self.latencies if latency is not None]

    def summary(self, expected: int) -> str:
        """Median and worst latency, and how many tries got no answer or another status."""
        answered = self.answered
        wrong = sum(1 for status in self.statuses if status not in (0, expected))
        if not answered:
            return f"no answer in {len(self.latencies)} tries"
        return (
            f"median {statistics.median(answered):.2f} s, worst {max(answered):.2f} s; "
            f"{len(self.latencies) - len(answered)} of {len(self.latencies)} unanswered, "
            f"{wrong} not {expected}"
        )


def _timed(probe: Probe, send: Callable[[], requests.Response]) -> None:
    """Record how long ``send`` took to get an answer, and its status (0: none)."""
    began = time.monotonic()
    try:
        response = send()
    except requests.RequestException:
        probe.latencies.append(None)
        probe.statuses.append(0)
        return
    probe.latencies.append(time.monotonic() - began)
    probe.statuses.append(response.status_code)


def probe_meanwhile(
    base_url: str, seconds: float, *, every: float = 2.0, timeout: float = 10.0
) -> tuple[Probe, Probe]:
    """Upload a small JPEG and GET /healthz every ``every`` seconds for ``seconds``, each
    on a new connection; return what the uploads and the health checks saw."""
    uploads, health = Probe(), Probe()
    data = images.jpeg((64, 48))

    def send_upload() -> requests.Response:
        return requests.post(f"{base_url}/", files={"image": ("a.jpg", data)}, timeout=timeout)

    def send_health() -> requests.Response:
        return requests.get(f"{base_url}/healthz", timeout=timeout)

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        _timed(uploads, send_upload)
        _timed(health, send_health)
        time.sleep(max(0.0, every - (time.monotonic() - started)))
    return uploads, health
