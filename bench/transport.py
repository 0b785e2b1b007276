"""The transport, measured: upload throughput and slow clients, on one checkout.

Against the server as ``make run`` starts it (2 processes of 4 threads, no thumbnail
worker: the transport is what is measured), on its embedded backends:

- upload throughput: wrk POSTs a ~470 KB 2 MP JPEG, and a body just under the 1 MiB
  limit, at concurrency 4 and 16 for ``--seconds`` each, with the CPU time the server's
  processes (nginx and gunicorn, or the old worker) spent per upload: on a shared
  machine the rate moves with the load, the CPU per upload much less;
- slow clients: 16 connections trickling their headers and 16 trickling a declared 1 MB
  body, a byte a second from one attacking address, while an ordinary client uploads a
  small JPEG and GETs /healthz every 2 s (``support.attackers``).

    .venv/bin/python bench/transport.py --label after --output bench/results/transport.md
    PYTHONPATH=<old checkout>/src .venv/bin/python bench/transport.py --label before ...

Not part of ``make bench``; needs wrk (``apt-get install wrk``).
"""

import argparse
import tempfile
from pathlib import Path

from service_load import LoadResult, multipart_body, run_wrk
from service_processes import cpu_seconds

from support import images
from support.attackers import BODY, HEADERS, Swarm, probe_meanwhile
from support.services import Service, local_env

SWARM_SECONDS = 30.0
MAX_REQUESTS = 100_000


def _bodies(workdir: Path) -> dict[str, tuple[Path, str]]:
    jpeg = images.jpeg((1600, 1200), seed=2, quality=90)
    photo, photo_type = multipart_body(jpeg)
    # The same JPEG padded to just under the upload limit (1 MiB), as the largest accepted.
    large, large_type = multipart_body(jpeg + b"\0" * (1024 * 1024 - 4096 - len(jpeg)))
    files = {}
    for name, (body, content_type) in {
        f"{len(photo) // 1024} KB": (photo, photo_type),
        f"{len(large) // 1024} KB": (large, large_type),
    }.items():
        path = workdir / f"{name.replace(' ', '')}.body"
        path.write_bytes(body)
        files[name] = (path, content_type)
    return files


def _row(label: str, size: str, load: LoadResult, server_cpu_s: float) -> str:
    errors = sum(load.socket_errors.values())
    cpu_ms = 1000 * server_cpu_s / max(1, load.requests)
    return (
        f"| {label} | {size} | {load.connections} | {load.per_second:.1f} | "
        f"{load.p50_ms:.0f} | {load.p99_ms:.0f} | {cpu_ms:.1f} | {load.statuses} | {errors} |"
    )


def throughput(label: str, seconds: float) -> list[str]:
    """One row per body size and concurrency."""
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        service = Service(local_env(Path(workdir)), Path(workdir))
        with service.running():
            for size, (path, content_type) in _bodies(Path(workdir)).items():
                for connections in (4, 16):
                    assert service.server is not None
                    cpu_before = cpu_seconds(service.server.pid)
                    load = run_wrk(
                        f"{service.base_url}/",
                        path,
                        content_type,
                        connections=connections,
                        seconds=seconds,
                        max_requests=MAX_REQUESTS,
                    )
                    spent = cpu_seconds(service.server.pid) - cpu_before
                    rows.append(_row(label, size, load, spent))
    return rows


def slow_clients(label: str) -> str:
    """One row: the ordinary client's uploads and health checks during the swarm."""
    with tempfile.TemporaryDirectory() as workdir:
        service = Service(local_env(Path(workdir)), Path(workdir))
        with service.running():
            swarm = Swarm(service.port, {HEADERS: 16, BODY: 16}, sources=("127.0.0.2",))
            with swarm.attacking(SWARM_SECONDS + 5):
                uploads, health = probe_meanwhile(service.base_url, SWARM_SECONDS)
            held = f"{swarm.cuts} cut, {len(swarm.uncut)} open at the end"
    return f"| {label} | {uploads.summary(202)} | {health.summary(200)} | {held} |"


def main() -> None:
    """Measure, print the rows, and append them to ``--output``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="what was measured (before, after)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one wrk run")
    parser.add_argument("--output", type=Path, help="append the rows to this file")
    parser.add_argument("--part", choices=("throughput", "slow", "both"), default="both")
    args = parser.parse_args()
    lines = []
    if args.part in ("throughput", "both"):
        lines += [
            "| transport | body | connections | uploads/s | p50 ms | p99 ms "
            "| server CPU ms/upload | statuses | errors |",
            "|---|---|---|---|---|---|---|---|---|",
            *throughput(args.label, args.seconds),
            "",
        ]
    if args.part in ("slow", "both"):
        lines += [
            "| transport | small uploads meanwhile | /healthz meanwhile | attackers |",
            "|---|---|---|---|",
            slow_clients(args.label),
            "",
        ]
    text = "\n".join(lines)
    print(text)
    if args.output is not None:
        with args.output.open("a") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
