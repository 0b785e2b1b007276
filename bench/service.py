"""Benchmark the running service on its embedded backends, against the bare WSGI floor.

What is measured, ``--repeats`` times over (fresh processes and data each time):

- upload throughput: a ~470 KB 2 MP JPEG POSTed by wrk at concurrency 1, 4 and 16 to the
  real gunicorn server with a worker running, and the same load against
  ``bench/bare_wsgi.py`` (same gunicorn configuration; it only stores the body) and
  ``bench/durable_floor.py`` (same configuration; only the service's durable writes:
  original and status, queue message), with the CPU time the servers spent per upload.
  The worker runs at ``nice 19`` here so the figure is the server's (in production
  workers have machines of their own); two more runs at concurrency 16, with the worker
  at normal priority and with no worker at all, show what sharing the 2 cores costs.
- the wait from 202 to the last thumbnail being fetchable (``service_latency``): idle,
  one upload at a time, and with 3 uploads in flight all the time, in alternating
  blocks; worker at normal priority. Each idle upload starts a random 0-50 ms after the
  previous one's thumbnails: sent back to back, uploads would phase-lock with the
  worker's 50 ms queue re-checks if a wake-up were lost (a send wakes the worker at
  once, so normally there is no re-check to wait for); real uploads arrive at random
  moments. The loaded
  clients upload back to back, as the load must stay at 3 in flight.

The machine is shared, so every figure is the median of the repeats, shown with its
range; the targets are judged on the median of the per-repeat ratios. The table is
printed and written to bench/results/service.md.

    .venv/bin/python bench/service.py [--repeats 5] [--seconds 6] [--no-profile]

Needs wrk (``apt-get install wrk``; ``make bench`` installs it).
"""

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from service_latency import LatencyResult, Probe, measure_latency
from service_load import LoadResult, multipart_body, run_wrk, wrk_path
from service_processes import (
    QUIET_WORKER_NICE,
    cpu_seconds,
    running_bare,
    running_floor,
    running_service,
    server_pid,
    storage_root,
)
from service_profile import profile_phase
from service_report import Repeat, Throughput, render

from sharer.queues.sqlite import RECHECK_SECONDS
from support import images
from support.services import Service

BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "service.md"
CONCURRENCY = (1, 4, 16)
WARMUP_SECONDS = 1.0
# Upper bound on the requests of one wrk run, whatever its duration.
MAX_REQUESTS = 20_000
LATENCY_WARMUP = 2
LATENCY_BLOCKS = 3
LATENCY_SECONDS = 90.0


@dataclass(frozen=True)
class Options:
    """The knobs of one benchmark run."""

    repeats: int
    seconds: float
    idle_uploads: int
    loaded_uploads: int
    in_flight: int
    probe: Probe
    profile: bool


def benchmark_image() -> bytes:
    """The upload: a photo-like 1600x1200 (1.92 MP) baseline JPEG of about 470 KB."""
    return images.jpeg((1600, 1200), seed=2, quality=90)


def main() -> None:
    """Run every repeat, then print the table and write it to bench/results/service.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of one wrk run")
    parser.add_argument("--idle-uploads", type=int, default=50)
    parser.add_argument("--loaded-uploads", type=int, default=75)
    parser.add_argument("--in-flight", type=int, default=3)
    parser.add_argument("--probe", choices=("file", "http"), default="file")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy phase")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    options = Options(
        args.repeats,
        args.seconds,
        args.idle_uploads,
        args.loaded_uploads,
        args.in_flight,
        args.probe,
        not args.no_profile,
    )
    wrk_path()  # fail before starting anything when wrk is missing
    data = benchmark_image()
    load_before = os.getloadavg()
    began = time.monotonic()
    repeats = []
    with tempfile.TemporaryDirectory(prefix="sharer-bench-") as scratch:
        root = Path(scratch)
        body, content_type = multipart_body(data)
        body_file = root / "body.bin"
        body_file.write_bytes(body)
        for number in range(options.repeats):
            print(f"repeat {number + 1}/{options.repeats}", file=sys.stderr, flush=True)
            run_dir = root / f"repeat-{number}"
            repeats.append(one_repeat(run_dir, body_file, content_type, data, options))
        profiles = (
            profile_phase(
                root / "profile",
                body_file,
                content_type,
                data,
                connections=max(CONCURRENCY),
                in_flight=options.in_flight,
                probe=options.probe,
            )
            if options.profile
            else []
        )
    report = render(
        repeats,
        image_bytes=len(data),
        command=" ".join([_shown(Path(sys.executable)), *sys.argv]),
        load_before=load_before,
        load_after=os.getloadavg(),
        minutes=(time.monotonic() - began) / 60,
        in_flight=options.in_flight,
        probe=options.probe,
        profiles=profiles,
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)


def one_repeat(
    run_dir: Path, body_file: Path, content_type: str, data: bytes, options: Options
) -> Repeat:
    """Every measurement once, bare and service interleaved per concurrency."""
    bare: dict[int, Throughput] = {}
    floor: dict[int, Throughput] = {}
    service: dict[int, Throughput] = {}
    with running_bare(run_dir / "bare") as bare_server:
        for connections in CONCURRENCY:
            bare[connections] = _throughput(
                bare_server.url, bare_server.pid, body_file, content_type, connections, options
            )
            bare_server.clear()
            with running_floor(run_dir / f"floor-c{connections}") as (url, pid):
                floor[connections] = _throughput(
                    url, pid, body_file, content_type, connections, options
                )
            workdir = run_dir / f"service-c{connections}"
            with running_service(workdir, worker_nice=QUIET_WORKER_NICE) as running:
                service[connections] = _throughput(
                    f"{running.base_url}/",
                    server_pid(running),
                    body_file,
                    content_type,
                    connections,
                    options,
                )
    # At the highest concurrency, also: the worker at normal priority, and no worker.
    beside: dict[int, Throughput] = {}
    for workers in (1, 0):
        with running_service(
            run_dir / f"service-workers-{workers}", worker_nice=0, workers=workers
        ) as running:
            beside[workers] = _throughput(
                f"{running.base_url}/",
                server_pid(running),
                body_file,
                content_type,
                max(CONCURRENCY),
                options,
            )
    with running_service(run_dir / "latency", worker_nice=0) as running:
        idle, loaded = _latencies(running, data, options)
    return Repeat(bare, floor, service, beside[1], beside[0], idle, loaded)


def _latencies(
    running: Service, data: bytes, options: Options
) -> tuple[LatencyResult, LatencyResult]:
    """Idle and loaded waits, measured in alternating blocks so that a change in the
    machine's other load during the repeat falls on both alike."""
    storage = storage_root(running)
    idle: list[LatencyResult] = []
    loaded: list[LatencyResult] = []
    for _ in range(LATENCY_BLOCKS):
        for in_flight, uploads, pause_s, results in (
            (1, options.idle_uploads, RECHECK_SECONDS, idle),
            (options.in_flight, options.loaded_uploads, 0.0, loaded),
        ):
            results.append(
                measure_latency(
                    running.base_url,
                    storage,
                    data,
                    in_flight=in_flight,
                    uploads=-(-uploads // LATENCY_BLOCKS),
                    warmup=LATENCY_WARMUP,
                    seconds=LATENCY_SECONDS / LATENCY_BLOCKS,
                    probe=options.probe,
                    pause_s=pause_s,
                )
            )
    return LatencyResult.combined(idle), LatencyResult.combined(loaded)


def _throughput(
    url: str, pid: int, body_file: Path, content_type: str, connections: int, options: Options
) -> Throughput:
    run_wrk(
        url,
        body_file,
        content_type,
        connections=connections,
        seconds=WARMUP_SECONDS,
        max_requests=MAX_REQUESTS,
    )
    cpu_before = cpu_seconds(pid)
    load = run_wrk(
        url,
        body_file,
        content_type,
        connections=connections,
        seconds=options.seconds,
        max_requests=MAX_REQUESTS,
    )
    server_cpu = cpu_seconds(pid) - cpu_before
    _check(load)
    return Throughput(load, server_cpu)


def _check(load: LoadResult) -> None:
    if set(load.statuses) != {"202"} or load.socket_errors:
        raise RuntimeError(
            f"not every upload was accepted at concurrency {load.connections}: "
            f"statuses {load.statuses}, socket errors {load.socket_errors}"
        )


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (as typed)."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


if __name__ == "__main__":
    main()
