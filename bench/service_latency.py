"""Thumbnail latency: the wait from an upload's 202 to its last thumbnail being fetchable.

A client uploads, takes the time the 202 arrived, then waits until every thumbnail URL
answers 200. ``in_flight`` clients do this at once in closed loops (each uploads again as
soon as its thumbnails are there), so ``in_flight=1`` is an idle service taking one
upload at a time and ``in_flight=3`` keeps three images in the pipeline all the time.

How readiness is observed matters as much as what is observed. Polling the thumbnail URLs
over HTTP both quantizes the figure (to the polling interval) and loads the server under
test (a 404 is a full Flask request). So by default (``probe="file"``) the client watches
for the thumbnail objects in the local storage directory with ``stat`` every
``FILE_POLL_S`` and, once they are all there, confirms over HTTP: the time taken is when
the last thumbnail's GET answered 200. ``probe="http"`` polls the URLs instead, every
``HTTP_POLL_S``, for comparison.
"""

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import requests
from service_load import multipart_body

from sharer.thumbnail_sizes import THUMBNAIL_NAMES

FILE_POLL_S = 0.002
HTTP_POLL_S = 0.010
# No single image may take longer than this to get its thumbnails.
READY_TIMEOUT_S = 30.0
MEDIA_PREFIX = "/media/"

Probe = Literal["file", "http"]


@dataclass(frozen=True)
class LatencyResult:
    """Waits from 202 to the last thumbnail, in milliseconds, of the measured uploads."""

    in_flight: int
    samples_ms: tuple[float, ...]
    seconds: float

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (0..100), linearly interpolated."""
        ordered = sorted(self.samples_ms)
        rank = (len(ordered) - 1) * p / 100
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

    @classmethod
    def combined(cls, parts: "list[LatencyResult]") -> "LatencyResult":
        """One result holding the samples of ``parts`` (measured with one ``in_flight``)."""
        if len({part.in_flight for part in parts}) != 1:
            raise ValueError("only results of the same in_flight can be combined")
        samples = tuple(sample for part in parts for sample in part.samples_ms)
        return cls(parts[0].in_flight, samples, sum(part.seconds for part in parts))


def measure_latency(
    base_url: str,
    storage_root: Path,
    data: bytes,
    *,
    in_flight: int,
    uploads: int,
    warmup: int,
    seconds: float,
    probe: Probe = "file",
    pause_s: float = 0.0,
) -> LatencyResult:
    """Run ``in_flight`` closed-loop clients until ``uploads`` were measured or time is up.

    Each client waits a random 0..``pause_s`` (seeded) before each upload. The first
    ``warmup`` uploads (across all clients) are not measured. Raises ``RuntimeError`` if
    an upload is refused or its thumbnails never appear.
    """
    body, content_type = multipart_body(data)
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    started = 0
    samples: list[float] = []

    def claim() -> int | None:
        nonlocal started
        with lock:
            if started >= warmup + uploads or time.monotonic() > deadline:
                return None
            started += 1
            return started

    def client(seed: int) -> None:
        pauses = random.Random(seed)
        with requests.Session() as session:
            wait = _file_probe(session, storage_root) if probe == "file" else _http_probe(session)
            while (number := claim()) is not None:
                time.sleep(pauses.uniform(0.0, pause_s))
                answer = session.post(
                    f"{base_url}/",
                    data=body,
                    headers={"Content-Type": content_type},
                    timeout=READY_TIMEOUT_S,
                )
                accepted = time.perf_counter()
                if answer.status_code != 202:
                    raise RuntimeError(f"upload answered {answer.status_code}: {answer.text}")
                urls = [answer.json()[name] for name in THUMBNAIL_NAMES]
                elapsed_ms = (wait(urls) - accepted) * 1000
                if number > warmup:
                    with lock:
                        samples.append(elapsed_ms)

    began = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        for future in [pool.submit(client, seed) for seed in range(in_flight)]:
            future.result()
    if not samples:
        raise RuntimeError("no upload was measured within the time bound")
    return LatencyResult(in_flight, tuple(samples), time.perf_counter() - began)


def _file_probe(session: requests.Session, root: Path) -> Callable[[list[str]], float]:
    """Wait on the storage files, then confirm over HTTP; return when the last answered."""

    def wait(urls: list[str]) -> float:
        paths = {url: root / urlsplit(url).path.removeprefix(MEDIA_PREFIX) for url in urls}
        deadline = time.monotonic() + READY_TIMEOUT_S
        missing = set(urls)
        while time.monotonic() < deadline:
            appeared = {url for url in missing if paths[url].exists()}
            if appeared == missing:
                # The last to appear are fetched inside the timing, the others after it.
                end = _fetch_all(session, sorted(appeared))
                _fetch_all(session, [url for url in urls if url not in appeared])
                return end
            missing -= appeared
            time.sleep(FILE_POLL_S)
        raise RuntimeError(f"thumbnails not stored within {READY_TIMEOUT_S}s: {sorted(missing)}")

    return wait


def _http_probe(session: requests.Session) -> Callable[[list[str]], float]:
    """Poll every URL still missing until each answers 200."""

    def wait(urls: list[str]) -> float:
        deadline = time.monotonic() + READY_TIMEOUT_S
        missing = list(urls)
        while time.monotonic() < deadline:
            missing = [url for url in missing if session.get(url, timeout=10).status_code != 200]
            if not missing:
                return time.perf_counter()
            time.sleep(HTTP_POLL_S)
        raise RuntimeError(f"thumbnails not fetchable within {READY_TIMEOUT_S}s: {missing}")

    return wait


def _fetch_all(session: requests.Session, urls: list[str]) -> float:
    for url in urls:
        answer = session.get(url, timeout=10)
        if answer.status_code != 200:
            raise RuntimeError(f"{url} stored but answered {answer.status_code}")
    return time.perf_counter()
