"""Calibrate the fleet simulator on the real service, then check its verdicts against it.

1. **Service times** (``measure``): the real server takes the benchmark corpus' uploads
   with no worker running; then one real worker with ``threads`` threads drains them, and
   its "thumbnails ready" log lines give each job's time with that many jobs running at
   once. Written to the ``--output`` file (``make simulate``: the Makefile's
   ``SCALING_CALIBRATION``, ``bench/results/scaling_calibration.json``), which the
   simulator reads.
2. **Validation** (``validate``): the server and N real workers (the product's default
   threads) on loopback take a Poisson burst of uploads at a known rate; each upload's
   202 -> ready latency is the client's 202 time to the worker's ready log line (one
   clock). The simulator replays the same arrival times on this machine's fleet (the N
   workers share its cores: one "instance" of this machine's cores running N x threads,
   each worker with its own receive loop folded into one) and predicts p50, p95 and drain
   time; the ratios predicted/measured are the check, at several fractions of the
   fleet's capacity. The local queue's receive and pickup times are measured first
   (``receive_times``), not assumed.

A job's logged time runs from its message decoded to its message deleted, so it holds
everything the thread does for the job; the receive that brought it is not in it (the
model adds it). Logged during the burst, it also holds the cores the server and the
load generator took meanwhile, which the calibration file's times (measured with
nothing else running) do not: the "from file" column shows that gap and is not the check.

    .venv/bin/python bench/scaling_calibration.py --output FILE [--repeats 3] [--skip-measure]
"""

import argparse
import json
import os
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from corpus import build
from service_load import multipart_body
from service_processes import running_service

from fleet_model.fleet_simulator import Fleet, default_fleet, simulate
from fleet_model.simulation_inputs import (
    InstanceType,
    Scenario,
    ServiceTimes,
    load_service_times,
)
from sharer.queues.sqlite import SqliteQueue
from support import images
from support.services import Service

REPO = Path(__file__).resolve().parent.parent
WORKDIR = REPO / "bench" / ".scaling-work"
CORES = os.cpu_count() or 1
MEASURED_THREADS = tuple(range(1, CORES + 2))
# Each thread count drains this many passes over the corpus.
PASSES = 2
# Every wait on the service is bounded.
DRAIN_TIMEOUT_S = 180.0
BURST_SECONDS = 20.0
UPLOAD_CLIENTS = 16
# Rates as fractions of one worker's throughput with all its threads busy, measured with
# nothing else running: at 1.0 the shared cores (server, load generator) make it an
# overload, so a backlog forms and drains, as in a burst on AWS.
RATE_FRACTIONS = (0.4, 0.7, 1.0)
# Receives timed for the local queue's round trip and pickup.
RECEIVE_SAMPLES = 40
# The small-image corpus (``--corpus small``): jobs of a few milliseconds to tens, where a
# fixed per-job wait in the model (what it used to add) would cost most of the worker's
# throughput, so a burst of them tells the receive loop's model from that one.
SMALL_SIZES = ((160, 120), (200, 150), (240, 180), (320, 240))
SMALL_PASSES = 12


def small_corpus() -> list[bytes]:
    """Small seeded JPEGs (``--corpus small``)."""
    return [images.jpeg(size, seed=n, quality=85) for n, size in enumerate(SMALL_SIZES)]


def _ready_times(service: Service) -> dict[str, tuple[float, float]]:
    """image id -> (ready time, job duration s) from the workers' "thumbnails ready" lines."""
    ready = {}
    for record in service.logs("worker-*"):
        if record.get("msg") == "thumbnails ready":
            at = datetime.fromisoformat(str(record["ts"])).timestamp()
            ready[str(record["image_id"])] = (at, float(str(record["duration_ms"])) / 1000)
    return ready


def _wait_ready(service: Service, ids: set[str]) -> dict[str, tuple[float, float]]:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        ready = _ready_times(service)
        if ids <= set(ready):
            return ready
        time.sleep(0.2)
    raise TimeoutError(f"{len(ids - set(_ready_times(service)))} jobs never became ready")


def _wait_started(service: Service, workers: int) -> None:
    """Until every worker has logged its start: a burst must not meet workers importing."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        started = [r for r in service.logs("worker-*") if r.get("msg") == "worker started"]
        if len(started) >= workers:
            time.sleep(0.5)  # their first receive
            return
        time.sleep(0.1)
    raise TimeoutError("the workers never started")


def _upload(base_url: str, data: bytes) -> tuple[str, float]:
    body, content_type = multipart_body(data)
    answer = requests.post(
        f"{base_url}/",
        data=body,
        headers={"Content-Type": content_type, "Accept": "application/json"},
        timeout=30,
    )
    answered = time.time()
    answer.raise_for_status()
    image_id = str(answer.json()["small"]).rstrip("/").split("/")[-2]
    return image_id, answered


def measure(
    corpus: list[bytes],
    thread_counts: tuple[int, ...] = MEASURED_THREADS,
    passes: int = PASSES,
    workdir: Path = WORKDIR,
) -> dict[str, Any]:
    """Service time samples (ms) per number of jobs running at once, on the real worker."""
    samples: dict[str, list[float]] = {}
    for threads in thread_counts:
        with running_service(workdir / f"measure-{threads}", worker_nice=0) as service:
            ids = {_upload(service.base_url, data)[0] for data in corpus * passes}
            service.start_worker(SHARER_WORKER_THREADS=str(threads))
            ready = _wait_ready(service, ids)
            samples[str(threads)] = sorted(round(ready[i][1] * 1000, 1) for i in ids)
        print(f"  {threads} thread(s): median {statistics.median(samples[str(threads)]):.0f} ms")
    return {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": round(os.getloadavg()[0], 2),
        "machine": f"{CORES} cores, {os.uname().machine}",
        "cores": CORES,
        "corpus_files": len(corpus),
        "service_ms": samples,
    }


def _burst(
    service: Service, corpus: list[bytes], rate: float, seed: int, seconds: float
) -> list[tuple[str, float]]:
    """Poisson uploads at ``rate``/s for ``seconds``; (image id, 202 time) each."""
    rng = random.Random(seed)
    offsets, t = [], 0.0
    while (t := t + rng.expovariate(rate)) < seconds:
        offsets.append(t)
    start = time.monotonic()
    results: list[tuple[str, float]] = []
    lock = threading.Lock()

    def send(data: bytes) -> None:
        answer = _upload(service.base_url, data)
        with lock:
            results.append(answer)

    with ThreadPoolExecutor(UPLOAD_CLIENTS) as pool:
        futures = []
        for offset in offsets:
            time.sleep(max(0.0, start + offset - time.monotonic()))
            futures.append(pool.submit(send, rng.choice(corpus)))
        for future in futures:
            future.result()
    return results


def _quantile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def receive_times(workdir: Path) -> tuple[float, float]:
    """Median seconds of the local queue's receive with a backlog, and of a waiting
    receive's return after a send (from the send's return), measured here and now."""
    workdir.mkdir(parents=True, exist_ok=True)
    queue = SqliteQueue(workdir / "receive-times.db", visibility_timeout=60, max_receives=5)
    for n in range(RECEIVE_SAMPLES):
        queue.send(f"backlog {n}")
    backlog = []
    for _ in range(RECEIVE_SAMPLES):
        began = time.perf_counter()
        assert queue.receive(1, 0)
        backlog.append(time.perf_counter() - began)
    pickups = []

    def poll(returned: list[float]) -> None:
        queue.receive(1, 5)
        returned.append(time.perf_counter())

    for n in range(RECEIVE_SAMPLES):
        returned: list[float] = []
        poller = threading.Thread(target=poll, args=(returned,))
        poller.start()
        time.sleep(0.02)  # the poller is waiting
        queue.send(f"pickup {n}")
        sent = time.perf_counter()
        poller.join(10)
        pickups.append(max(0.0, returned[0] - sent))
    return statistics.median(backlog), statistics.median(pickups)


def _busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (not idle, not waiting on I/O)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def _process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of one process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def validate(
    corpus: list[bytes],
    service_times: ServiceTimes,
    workers: int,
    rate: float,
    seed: int,
    seconds: float = BURST_SECONDS,
    workdir: Path = WORKDIR,
) -> dict[str, Any]:
    """One measured burst against N workers, and the simulator's prediction of it."""
    load_before = os.getloadavg()[0]
    receive_s, pickup_s = receive_times(workdir / "receive-times")
    with running_service(workdir / f"validate-{workers}", worker_nice=0, workers=workers) as svc:
        _wait_started(svc, workers)
        pids = [worker.pid for worker in svc.workers]
        began = time.monotonic()
        busy_before = _busy_cpu_seconds()
        workers_before = sum(_process_cpu_seconds(pid) for pid in pids)
        answers = _burst(svc, corpus, rate, seed, seconds)
        ready = _wait_ready(svc, {image_id for image_id, _ in answers})
        workers_cpu = sum(_process_cpu_seconds(pid) for pid in pids) - workers_before
        busy = _busy_cpu_seconds() - busy_before
        elapsed = time.monotonic() - began
    # The cores the server, the load generator and anything else on the machine took
    # meanwhile; the calibration file's times were measured without them.
    others = max(0.0, (busy - workers_cpu) / elapsed)
    cores_left = max(0.5, CORES - others)
    shared = ServiceTimes(
        service_times.cores,
        {
            k: tuple(t * CORES / cores_left for t in v)
            for k, v in service_times.by_concurrency.items()
        },
    )
    first = min(t for _, t in answers)
    latencies = [ready[i][0] - t for i, t in answers]
    drain = max(ready[i][0] for i, _ in answers) - first
    threads = CORES + 1  # the product's default, which service_env keeps
    here = InstanceType("this machine", CORES, 0.0, None, 0.0)
    fleet: Fleet = default_fleet(here)
    fleet = Fleet(
        steps=fleet.steps,
        fleet_min=1,
        fleet_max=1,
        instance=here,
        threads=threads * workers,
        fixed=True,
        # Local backends: no S3 round trips (the logged time holds the local ones).
        overhead_s=0.0,
        receive_s=receive_s,
        pickup_s=pickup_s,
    )
    arrivals = sorted(t - first for _, t in answers)
    scenario = Scenario("calibration", seconds / 60, ((0.0, rate),))
    # Each job's own time as this very run's worker logged it (with the server's uploads
    # and the other workers on the same cores), and draws from the calibration file with
    # every time stretched by the cores the others took.
    ordered = sorted(answers, key=lambda answer: answer[1])
    own_times = [ready[image_id][1] for image_id, _ in ordered]
    predictions = {}
    runs = (("in_run", own_times, service_times), ("calibration_file", None, shared))
    for name, times, drawn_from in runs:
        predicted = simulate(
            scenario, fleet, drawn_from, seed=seed, arrivals=arrivals, job_times=times
        )
        # Jobs are numbered as they arrive, so latencies line up with the sorted arrivals.
        ends = [a + lat for a, lat in zip(arrivals, predicted.latencies, strict=True)]
        predictions[name] = {
            "p50": predicted.percentile(50),
            "p95": predicted.percentile(95),
            "drain": max(ends),
        }
    measured = {"p50": _quantile(latencies, 50), "p95": _quantile(latencies, 95), "drain": drain}
    return {
        "workers": workers,
        "threads_each": threads,
        # The machine's 1-minute load average before and after the burst (shared machine).
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "rate_per_s": rate,
        "uploads": len(answers),
        "receive_ms": round(receive_s * 1000, 2),
        "cores_taken_by_others": round(others, 2),
        "pickup_ms": round(pickup_s * 1000, 2),
        "measured_s": measured,
        "predicted_s": predictions["in_run"],
        "ratio": {k: predictions["in_run"][k] / measured[k] for k in measured},
        "predicted_from_file_s": predictions["calibration_file"],
        "ratio_from_file": {k: predictions["calibration_file"][k] / measured[k] for k in measured},
    }


def main() -> None:
    """Measure, write the calibration file, validate N = 1 and 2 at each rate, save ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="validation runs per N and rate")
    parser.add_argument("--skip-measure", action="store_true", help="reuse the calibration file")
    parser.add_argument(
        "--output", type=Path, required=True, help="the calibration file to write (or reuse)"
    )
    parser.add_argument(
        "--fractions",
        type=float,
        nargs="+",
        default=RATE_FRACTIONS,
        help="rates as fractions of one worker's throughput",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=(1, 2))
    parser.add_argument("--burst-seconds", type=float, default=BURST_SECONDS)
    parser.add_argument(
        "--corpus",
        choices=("benchmark", "small"),
        default="benchmark",
        help="the benchmark corpus, or small JPEGs (jobs of milliseconds)",
    )
    parser.add_argument(
        "--measure-all-threads",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure 1..cores+1 threads (--no-...: only cores+1, what the rate needs)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=WORKDIR, help="where the services keep their data"
    )
    options = parser.parse_args()
    small = options.corpus == "small"
    corpus = small_corpus() if small else [path.read_bytes() for path in build()]
    if options.skip_measure:
        doc = json.loads(options.output.read_text())
    else:
        print("measuring service times on the real worker")
        threads = MEASURED_THREADS if options.measure_all_threads else (CORES + 1,)
        doc = measure(corpus, threads, SMALL_PASSES if small else PASSES, options.workdir)
        doc["corpus"] = options.corpus
        options.output.write_text(json.dumps(doc, indent=1) + "\n")
    service_times = load_service_times(options.output)
    busy = service_times.by_concurrency[CORES + 1]
    capacity = (CORES + 1) / statistics.mean(busy)
    runs = []
    for repeat in range(options.repeats):
        for fraction in options.fractions:
            for workers in options.workers:
                rate = fraction * capacity
                print(f"validating {workers} worker(s) at {rate:.1f}/s, run {repeat + 1}")
                run = validate(
                    corpus,
                    service_times,
                    workers,
                    rate,
                    repeat + 1,
                    options.burst_seconds,
                    options.workdir,
                )
                run["capacity_fraction"] = fraction
                for key in ("ratio", "ratio_from_file"):
                    ratios = {k: round(v, 2) for k, v in run[key].items()}
                    print(f"  {key} predicted/measured", ratios)
                runs.append(run)
    doc["validation"] = runs
    spread = [v for run in runs for v in run["ratio"].values()]
    print(f"predicted/measured over {len(runs)} runs: {min(spread):.2f} .. {max(spread):.2f}")
    options.output.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
