"""The whole job against thumbor: from sending an image to holding its three thumbnails.

Both servers run on loopback at once, on the thumbnailer corpus (bench/corpus.py), driven
by the same Python client:

- ours: ``POST /`` (multipart), then a GET of the small thumbnail's URL (the last of the
  three the worker stores) with ``Prefer: wait``, which the server holds until the
  thumbnail is made, then the other two at once; embedded backends (files, SQLite),
  2 gunicorn processes and one worker. Should a GET still answer 404 (every waiting
  slot taken, or the wait over), the client asks again, backing off (``POLL_S`` doubling
  up to ``MAX_POLL_S``); the 404s are counted and reported.
- thumbor (``bench/thumbor_env.py``): its upload (``POST /image``), then its three
  ``fit-in`` URLs at once; file storage, no result storage, as many server processes as
  ours has working processes (two servers and a worker: 3).

Every thumbnail is decoded after the clock stops and its size checked against the box.
One client at a time: each image goes to one side then the other (the order alternates),
and the latencies' p50 are compared. Eight clients: each side in turn for ``--seconds``
in closed loops over the corpus, repeated ``--rounds`` times alternating which goes
first; images/s and the CPU the server processes spent per image (ours: gunicorn and the
worker; thumbor: its processes) are compared per round, and the medians reported.

    .venv/bin/python bench/thumbor_job.py [--rounds 3] [--seconds 20]
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from corpus import build
from PIL import Image, ImageOps
from service_processes import cpu_seconds, running_service, server_pid
from thumbor_env import running_thumbor, thumbor_version

from sharer.thumbnail_sizes import THUMBNAIL_SIZES
from support.services import Service
from worker.thumbnails import fit

BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "thumbor.md"
POLL_S = 0.005
MAX_POLL_S = 0.08
TIMEOUT_S = 30.0
# What our client asks the server to wait at most (it caps this at its own setting).
PREFER_WAIT = {"Prefer": "wait=10"}
THUMBOR_PROCESSES = 3
CLIENTS = 8
BOXES = {size.name: (size.width, size.height) for size in THUMBNAIL_SIZES}

# One image's job: upload it, return the thumbnails (name -> bytes) once all are held.
Job = Callable[[requests.Session, ThreadPoolExecutor, str, bytes], dict[str, bytes]]


def _get(session: requests.Session, url: str) -> bytes:
    answer = session.get(url, timeout=TIMEOUT_S)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url} answered {answer.status_code}")
    return answer.content


def ours(base: str, polls: list[int]) -> Job:
    """Our service at ``base``: upload, wait for the small thumbnail, fetch the others;
    appends to ``polls`` how many times each image's small thumbnail answered 404."""

    def job(
        session: requests.Session, fetch: ThreadPoolExecutor, name: str, data: bytes
    ) -> dict[str, bytes]:
        answer = session.post(f"{base}/", files={"image": (name, data)}, timeout=TIMEOUT_S)
        if answer.status_code != 202:
            raise RuntimeError(f"our upload of {name} answered {answer.status_code}")
        urls = {size_name: answer.json()[size_name] for size_name in BOXES}
        others = {v: u for v, u in urls.items() if v != "small"}
        deadline, pause, missed = time.monotonic() + TIMEOUT_S, POLL_S, 0
        while (
            small := session.get(urls["small"], headers=PREFER_WAIT, timeout=TIMEOUT_S)
        ).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: no thumbnails after {TIMEOUT_S}s")
            missed += 1
            time.sleep(pause)
            pause = min(pause * 2, MAX_POLL_S)
        polls.append(missed)
        held = {v: fetch.submit(_get, requests.Session(), u) for v, u in others.items()}
        return {"small": small.content} | {v: f.result() for v, f in held.items()}

    return job


def thumbor(base: str) -> Job:
    """thumbor at ``base``: upload, then its three fit-in URLs at once."""

    def job(
        session: requests.Session, fetch: ThreadPoolExecutor, name: str, data: bytes
    ) -> dict[str, bytes]:
        answer = session.post(f"{base}/image", data=data, headers={"Slug": name}, timeout=TIMEOUT_S)
        if answer.status_code != 201:
            raise RuntimeError(f"thumbor's upload of {name} answered {answer.status_code}")
        path = answer.headers["Location"].removeprefix("/image/")
        held = {
            v: fetch.submit(_get, requests.Session(), f"{base}/unsafe/fit-in/{w}x{h}/{path}")
            for v, (w, h) in BOXES.items()
        }
        return {v: f.result() for v, f in held.items()}

    return job


def check_sizes(name: str, data: bytes, thumbnails: dict[str, bytes]) -> None:
    """Every thumbnail fits its box with the original's (upright) aspect, within a pixel."""
    with Image.open(io.BytesIO(data)) as original:
        upright = ImageOps.exif_transpose(original).size
    for size_name, body in thumbnails.items():
        with Image.open(io.BytesIO(body)) as thumbnail:
            got = thumbnail.size
        want = fit(upright, BOXES[size_name])
        if abs(got[0] - want[0]) > 1 or abs(got[1] - want[1]) > 1:
            raise RuntimeError(f"{name} {size_name}: {got}, expected {want}")


@dataclass
class Side:
    """One server under test: its job, the pids whose CPU counts, what it produced."""

    name: str
    job: Job
    pids: list[int]
    latencies_ms: list[float]

    def cpu(self) -> float:
        """CPU seconds of its processes (and their children) so far."""
        return sum(cpu_seconds(pid) for pid in self.pids)


@dataclass(frozen=True)
class Throughput:
    """One closed-loop run of ``CLIENTS`` clients."""

    images: int
    seconds: float
    cpu_s: float

    @property
    def per_second(self) -> float:
        """Images (all three thumbnails held) per second."""
        return self.images / self.seconds

    @property
    def cpu_ms_per_image(self) -> float:
        """Server-side CPU per image, in milliseconds."""
        return self.cpu_s / self.images * 1000


def one_at_a_time(sides: list[Side], corpus: dict[str, bytes], rounds: int) -> None:
    """Each image to each side in turn, alternating which goes first; checked after."""
    with requests.Session() as session, ThreadPoolExecutor(len(BOXES)) as fetch:
        for number in range(rounds):
            for index, (name, data) in enumerate(corpus.items()):
                order = sides if (number + index) % 2 == 0 else sides[::-1]
                for side in order:
                    began = time.perf_counter()
                    thumbnails = side.job(session, fetch, name, data)
                    side.latencies_ms.append((time.perf_counter() - began) * 1000)
                    check_sizes(name, data, thumbnails)


def closed_loop(side: Side, corpus: dict[str, bytes], seconds: float) -> Throughput:
    """``CLIENTS`` clients each sending the corpus in a loop (from its own offset)."""
    items = list(corpus.items())
    deadline = time.monotonic() + seconds
    done: list[tuple[str, bytes, dict[str, bytes]]] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        with requests.Session() as session, ThreadPoolExecutor(len(BOXES)) as fetch:
            number = offset
            while time.monotonic() < deadline:
                name, data = items[number % len(items)]
                thumbnails = side.job(session, fetch, name, data)
                with lock:
                    done.append((name, data, thumbnails))
                number += 1

    cpu_before, began = side.cpu(), time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client, n * 3) for n in range(CLIENTS)]:
            future.result()
    result = Throughput(len(done), time.perf_counter() - began, side.cpu() - cpu_before)
    for name, data, thumbnails in done:
        check_sizes(name, data, thumbnails)
    return result


def main() -> None:
    """Run both phases and write bench/results/thumbor.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    load_before, began = os.getloadavg(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sharer-thumbor-") as scratch:
        root = Path(scratch)
        corpus = {path.name: path.read_bytes() for path in build(root / "corpus")}
        with (
            running_service(root / "ours", worker_nice=0) as service,
            running_thumbor(root / "thumbor", processes=THUMBOR_PROCESSES) as other,
        ):
            polls: list[int] = []
            sides = [
                Side("ours", ours(service.base_url, polls), _service_pids(service), []),
                Side("thumbor", thumbor(other.url), [other.pid], []),
            ]
            one_at_a_time(sides, dict(list(corpus.items())[:3]), 1)  # warm-up
            for side in sides:
                side.latencies_ms.clear()
            polls.clear()
            one_at_a_time(sides, corpus, args.rounds)
            idle_polls = statistics.mean(polls)
            polls.clear()
            loads: dict[str, list[Throughput]] = {side.name: [] for side in sides}
            for number in range(args.rounds):
                for side in sides if number % 2 == 0 else sides[::-1]:
                    print(f"round {number + 1}: {side.name}", file=sys.stderr, flush=True)
                    loads[side.name].append(closed_loop(side, corpus, args.seconds))
    report = render(
        sides,
        loads,
        polls=(idle_polls, statistics.mean(polls)),
        command=" ".join(["python", *sys.argv]),
        load_before=load_before,
        load_after=os.getloadavg(),
        minutes=(time.monotonic() - began) / 60,
        images=len(corpus),
    )
    print(report)
    args.output.write_text(report)


def _service_pids(service: Service) -> list[int]:
    return [server_pid(service), *(worker.pid for worker in service.workers)]


def render(
    sides: list[Side],
    loads: dict[str, list[Throughput]],
    *,
    polls: tuple[float, float],
    command: str,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    minutes: float,
    images: int,
) -> str:
    """The results as markdown."""
    ours_side = sides[0]
    p50 = {side.name: statistics.median(side.latencies_ms) for side in sides}
    p90 = {side.name: statistics.quantiles(side.latencies_ms, n=10)[-1] for side in sides}
    rate_ratios = [
        a.per_second / b.per_second for a, b in zip(loads["ours"], loads["thumbor"], strict=True)
    ]
    cpu_ratios = [
        a.cpu_ms_per_image / b.cpu_ms_per_image
        for a, b in zip(loads["ours"], loads["thumbor"], strict=True)
    ]

    def shown(values: list[float], unit: str = "") -> str:
        return f"{statistics.median(values):.2f}{unit} [{min(values):.2f}-{max(values):.2f}]"

    def load(values: tuple[float, float, float]) -> str:
        return " ".join(f"{v:.1f}" for v in values)

    lines = [
        "# Whole job against thumbor",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs; "
        f"Python {sys.version.split()[0]}; {thumbor_version()}.",
        "",
        f"Command: `{command}` ({minutes:.1f} min). Load average before/after: "
        f"{load(load_before)} / {load(load_after)}. Corpus: the {images} images of "
        "bench/corpus.py; thumbor with "
        f"{THUMBOR_PROCESSES} processes, file storage, no result storage.",
        "",
        "| measure | ours | thumbor | ours/thumbor | target |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| one client: p50 ms, upload to three thumbnails held "
        f"({len(ours_side.latencies_ms)} images each) | {p50['ours']:.1f} | "
        f"{p50['thumbor']:.1f} | {p50['ours'] / p50['thumbor']:.2f}x | <= 0.7x |",
        f"| one client: p90 ms | {p90['ours']:.1f} | {p90['thumbor']:.1f} | "
        f"{p90['ours'] / p90['thumbor']:.2f}x | |",
        f"| {CLIENTS} clients: images/s (median [range] of {len(rate_ratios)} rounds) | "
        f"{shown([t.per_second for t in loads['ours']])} | "
        f"{shown([t.per_second for t in loads['thumbor']])} | {shown(rate_ratios, 'x')} "
        "| >= 2x |",
        f"| {CLIENTS} clients: server CPU ms per image | "
        f"{shown([t.cpu_ms_per_image for t in loads['ours']])} | "
        f"{shown([t.cpu_ms_per_image for t in loads['thumbor']])} | "
        f"{shown(cpu_ratios, 'x')} | <= 0.45x |",
        "",
        "Ratios are per round (both sides measured back to back in it), then the median. "
        "Our client's GET of the small thumbnail sends `Prefer: wait=10`, so the server "
        "holds it until the thumbnail is made. Its 404s per image (each a request our "
        f"server pays for): {polls[0]:.1f} with one client, {polls[1]:.1f} with {CLIENTS}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
