"""Drive the running service as many users at once, then check that every 202 was kept.

Shared by the load test (``tests/load``), the fault tests and the soak (``bench/soak.py``):

- ``upload_many``: a bounded pool of client threads POSTing images, every answer tallied;
- ``settle``: poll the status of every accepted image until none is pending (bounded);
- ``check_thumbnails``: fetch all three thumbnails of every ready image and decode them.

Memory of the processes is in ``support.memory``, bounded polls in ``support.waiting``.
"""

import io
import itertools
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from PIL import Image

from sharer.thumbnail_sizes import THUMBNAIL_SIZES
from support import images

REQUEST_TIMEOUT = 30.0


def mixed_payloads() -> list[bytes]:
    """A handful of distinct uploads of every accepted format, all far under 1 MiB."""
    return [
        images.jpeg((1024, 768), seed=1),
        images.jpeg((640, 480), seed=2, orientation=6),
        images.png((400, 300), seed=3, mode="RGBA"),
        images.gif((320, 240), seed=4),
        images.webp((800, 600), seed=5),
        images.jpeg((1600, 1200), seed=6, quality=75),
    ]


@dataclass(frozen=True)
class Accepted:
    """A 202: where its status lives and the four URLs it promised."""

    location: str
    urls: dict[str, str]

    @classmethod
    def from_response(cls, response: requests.Response) -> "Accepted":
        """The promise a 202 answer made."""
        assert response.status_code == 202, response.text
        return cls(response.headers["Location"], response.json())


@dataclass
class Tally:
    """Every upload attempt and its answer; safe to update from many threads."""

    attempts: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    accepted: list[Accepted] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def server_errors(self) -> int:
        """Answers in the 5xx range."""
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def record(self, response: requests.Response | None) -> None:
        """Count one attempt: ``None`` when the connection failed before any answer."""
        with self._lock:
            self.attempts += 1
            if response is None:
                self.connection_errors += 1
                return
            self.statuses[response.status_code] += 1
            if response.status_code == 202:
                self.accepted.append(Accepted.from_response(response))


def upload_many(
    base_url: str,
    payloads: Sequence[bytes],
    *,
    concurrency: int,
    total: int | None = None,
    seconds: float | None = None,
    pause: float = 0.0,
    tally: Tally | None = None,
    stop: threading.Event | None = None,
) -> Tally:
    """Upload ``payloads`` in turn from ``concurrency`` threads until ``total`` attempts
    were made, ``seconds`` passed (at least one of the two is required) or ``stop`` is
    set; ``pause`` is each client's think time between uploads."""
    if total is None and seconds is None:
        raise ValueError("give total, seconds or both: the loop must be bounded")
    tally = tally or Tally()
    deadline = time.monotonic() + seconds if seconds is not None else float("inf")
    tickets = itertools.count() if total is None else iter(range(total))
    ticket_lock = threading.Lock()

    def next_ticket() -> int | None:
        with ticket_lock:
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                return None
            return next(tickets, None)

    def client() -> None:
        with requests.Session() as session:
            while (ticket := next_ticket()) is not None:
                tally.record(_post(session, base_url, payloads[ticket % len(payloads)]))
                if pause:
                    time.sleep(pause)

    with ThreadPoolExecutor(concurrency, thread_name_prefix="client") as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    return tally


def _post(session: requests.Session, base_url: str, data: bytes) -> requests.Response | None:
    try:
        return session.post(
            f"{base_url}/",
            files={"image": ("upload", data, "application/octet-stream")},
            timeout=REQUEST_TIMEOUT,
        )
    except requests.ConnectionError:
        return None


def settle(base_url: str, accepted: Sequence[Accepted], *, timeout: float) -> dict[str, str]:
    """Poll statuses until none is pending or ``timeout`` passes: Location -> status.

    Jobs finish roughly in upload order, so each round walks the pending ones in order
    and stops at the first still pending: polling costs about one request per image.
    """
    states = {a.location: "pending" for a in accepted}
    pending = list(states)
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while pending and time.monotonic() < deadline:
            still: list[str] = []
            for location in pending:
                if not still:
                    doc = session.get(f"{base_url}{location}", timeout=REQUEST_TIMEOUT).json()
                    states[location] = str(doc["status"])
                if states[location] == "pending":
                    still.append(location)
            pending = still
            if pending:
                time.sleep(0.1)
    return states


def check_thumbnails(accepted: Sequence[Accepted], *, concurrency: int = 8) -> list[str]:
    """Fetch every thumbnail of ``accepted``; return what is wrong (empty when all good)."""

    def problems_of(item: Accepted) -> list[str]:
        found = []
        for size in THUMBNAIL_SIZES:
            url = item.urls[size.name]
            response = requests.get(url, timeout=REQUEST_TIMEOUT)
            if response.status_code != 200:
                found.append(f"{url}: {response.status_code}")
                continue
            with Image.open(io.BytesIO(response.content)) as thumb:
                thumb.load()  # raises on a truncated body
                if thumb.width > size.width or thumb.height > size.height:
                    found.append(f"{url}: {thumb.size} outside {size.width}x{size.height}")
        return found

    with ThreadPoolExecutor(concurrency) as pool:
        return [p for found in pool.map(problems_of, accepted) for p in found]
