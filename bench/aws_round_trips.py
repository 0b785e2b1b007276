"""AWS round trips: the service on S3 and SQS (moto's server) behind a network's latency.

``bench/latency_proxy.py`` sits between the service and moto and adds ``--one-way-ms``
each way to every request (and a handshake to every new connection). One upload at a
time, each waited for until its job has deleted its message; for each, from the proxy's
log:

- the upload: its answer time (POST to 202, at the client) and the sequential round
  trips the server waited through (its original, status and queue message);
- the job: from the receive that delivered it to its delete (get the original, store
  the thumbnails, the status, delete the message), time and sequential round trips.

The same is measured with no added latency, and the difference between the two p50s,
divided by the round trip, is a second count that needs no log.

    .venv/bin/python bench/aws_round_trips.py [--uploads 15] [--one-way-ms 20]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from latency_proxy import Exchange, LatencyProxy, sequential_round_trips
from service_load import multipart_body

from support import images
from support.services import Service, aws_env, moto_server

BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "aws_round_trips.md"
BUCKET = "bench-images"
WARMUP = 4
JOB_TIMEOUT_S = 30.0
# The worker's queue traffic that belongs to no one job.
_BACKGROUND = ("ReceiveMessage", "ChangeMessageVisibility")


@dataclass(frozen=True)
class Upload:
    """One upload and its job, timed and counted from the proxy's log."""

    answer_s: float
    upload_round_trips: int
    job_s: float
    job_round_trips: int
    new_connections: int


def measure(workdir: Path, data: bytes, *, one_way_s: float, uploads: int) -> list[Upload]:
    """``uploads`` measured uploads (after ``WARMUP``) through a proxy adding ``one_way_s``."""
    body, content_type = multipart_body(data)
    workdir.mkdir(parents=True)
    measured: list[Upload] = []
    with moto_server(workdir) as endpoint, LatencyProxy(endpoint, one_way_s) as proxy:
        env = aws_env(endpoint, bucket=BUCKET) | {"SHARER_AWS_ENDPOINT_URL": proxy.url}
        with Service(env, workdir).running(workers=1) as service, requests.Session() as client:
            for number in range(WARMUP + uploads):
                began = time.monotonic()
                answer = client.post(
                    f"{service.base_url}/",
                    data=body,
                    headers={"Content-Type": content_type},
                    timeout=JOB_TIMEOUT_S,
                )
                answered = time.monotonic()
                if answer.status_code != 202:
                    raise RuntimeError(f"upload answered {answer.status_code}: {answer.text}")
                image_id = answer.json()["original"].rsplit("/", 2)[-2]
                log = _wait_for_delete(proxy, answered)
                if number >= WARMUP:
                    measured.append(_analysed(log, image_id, began, answered))
    return measured


def _wait_for_delete(proxy: LatencyProxy, after: float) -> list[Exchange]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        log = proxy.exchanges()
        if any(e.operation == "DeleteMessage" and e.began > after for e in log):
            return log
        time.sleep(0.01)
    raise RuntimeError(f"no job finished within {JOB_TIMEOUT_S}s")


def _analysed(log: list[Exchange], image_id: str, began: float, answered: float) -> Upload:
    upload = [
        e
        for e in log
        if began <= e.began and e.ended <= answered and e.operation not in _BACKGROUND
    ]
    get = next(
        e for e in log if e.operation.startswith(f"GET /{BUCKET}/images/{image_id}/original")
    )
    delivered = max(
        e.ended for e in log if e.operation == "ReceiveMessage" and e.ended <= get.began
    )
    delete = next(e for e in log if e.operation == "DeleteMessage" and e.began > get.began)
    job = [
        e for e in log if delivered <= e.began <= delete.began and e.operation not in _BACKGROUND
    ]
    return Upload(
        answer_s=answered - began,
        upload_round_trips=sequential_round_trips(upload),
        job_s=delete.ended - delivered,
        job_round_trips=sequential_round_trips(job),
        new_connections=sum(e.opened for e in upload + job),
    )


def main() -> None:
    """Measure without and with added latency; write bench/results/aws_round_trips.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=15)
    parser.add_argument("--one-way-ms", type=float, default=20.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    data = images.jpeg((1600, 1200), seed=2, quality=90)
    load_before, started = os.getloadavg(), time.monotonic()
    one_way_s = args.one_way_ms / 1000
    results: dict[float, list[Upload]] = {}
    with tempfile.TemporaryDirectory(prefix="sharer-aws-") as scratch:
        for delay in (0.0, one_way_s):
            print(f"one way {delay * 1000:.0f} ms", file=sys.stderr, flush=True)
            results[delay] = measure(
                Path(scratch) / f"delay-{delay}", data, one_way_s=delay, uploads=args.uploads
            )
    report = render(
        results,
        one_way_s,
        command=" ".join(["python", *sys.argv]),
        load=(load_before, os.getloadavg()),
        minutes=(time.monotonic() - started) / 60,
    )
    print(report)
    args.output.write_text(report)


def render(
    results: dict[float, list[Upload]],
    one_way_s: float,
    *,
    command: str,
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
    minutes: float,
) -> str:
    """The table, as markdown."""
    round_trip = 2 * one_way_s
    base, slow = results[0.0], results[one_way_s]

    def p50(uploads: list[Upload], field: str) -> float:
        return float(statistics.median(getattr(u, field) for u in uploads))

    def counts(field: str) -> str:
        values = [getattr(u, field) for u in slow]
        return f"{statistics.median(values):g} [{min(values)}-{max(values)}]"

    rows = []
    for what, time_field, count_field, target in (
        ("upload: POST to 202", "answer_s", "upload_round_trips", 2),
        ("job: delivered to deleted", "job_s", "job_round_trips", 4),
    ):
        fast_ms, slow_ms = p50(base, time_field) * 1000, p50(slow, time_field) * 1000
        derived = (slow_ms - fast_ms) / 1000 / round_trip
        rows.append(
            f"| {what} | {fast_ms:.1f} | {slow_ms:.1f} | {counts(count_field)} | "
            f"{derived:.1f} | <= {target} |"
        )
    opened = sum(u.new_connections for u in slow)
    before, after = (" ".join(f"{v:.1f}" for v in values) for values in load)
    return "\n".join(
        [
            "# AWS round trips (moto's server behind a latency proxy)",
            "",
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs; "
            f"Python {sys.version.split()[0]}.",
            "",
            f"Command: `{command}` ({minutes:.1f} min). Load average before/after: {before} / "
            f"{after}. A 1600x1200 JPEG (~470 KB), one upload at a time, {len(slow)} measured "
            f"after {WARMUP} warm-up uploads; {one_way_s * 1000:.0f} ms added each way "
            f"(round trip {round_trip * 1000:.0f} ms).",
            "",
            "| step | p50 ms, no latency | p50 ms, with latency | sequential round trips "
            "counted (median [range]) | (difference of p50s) / round trip | target |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
            *rows,
            "",
            f"Connections opened during the measured uploads and jobs: {opened} (each costs "
            "a handshake; the pools keep them).",
            "",
        ]
    )


if __name__ == "__main__":
    main()
