"""Soak: uploads for 10 minutes while a worker is killed (SIGKILL) every minute.

The service runs on the embedded backends (files and SQLite) in a temporary directory,
as real processes on loopback: gunicorn with 2 processes and 2 workers. Clients upload
continuously; every ``--kill-every`` seconds the oldest worker is killed with SIGKILL and
a fresh one started, so the messages it held come back after the visibility timeout.
When the time is up, uploads stop, every 202 is followed to ``ready`` and all three
thumbnails are fetched. Prints the figures as JSON (and writes them with ``--output``):
uploads, 202s, ready, lost, 5xx, and RSS of the server and workers at start and end.

    .venv/bin/python bench/soak.py [--minutes 10] [--output bench/results/soak.json]

Not part of ``make test``; ``make soak`` runs it.
"""

import argparse
import json
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

from sharer.backends import open_queue
from sharer.queues.sqlite import SqliteQueue
from sharer.settings import CommonSettings
from support.load import Tally, check_thumbnails, mixed_payloads, settle, upload_many
from support.memory import memory_of
from support.services import Service, local_env
from support.waiting import wait_for

# Short enough that a killed worker's jobs come back quickly, long enough that the
# heartbeat (every third of it) never lets a running job be handed out twice.
VISIBILITY_TIMEOUT = 10
# How long the workers may take to finish the backlog once the clients stop.
DRAIN_TIMEOUT = 900.0


def main() -> None:
    """Parse the options, run the soak, print (and maybe write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--kill-every", type=float, default=60.0, help="seconds")
    parser.add_argument("--clients", type=int, default=2, help="concurrent uploaders")
    parser.add_argument("--pause", type=float, default=0.2, help="client think time, s")
    parser.add_argument("--output", type=Path, help="also write the JSON figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sharer-soak-") as workdir:
        figures = soak(Path(workdir), args.minutes * 60, args.kill_every, args.clients, args.pause)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")


def _backlog(env: dict[str, str]) -> int:
    queue = open_queue(CommonSettings.from_env(env))
    assert isinstance(queue, SqliteQueue)
    counts = queue.counts()
    queue.close()
    return counts.visible + counts.in_flight


def soak(
    workdir: Path, seconds: float, kill_every: float, clients: int, pause: float
) -> dict[str, object]:
    """Run the service in ``workdir`` under load and worker kills; return the figures."""
    env = local_env(workdir) | {"SHARER_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}
    service = Service(env, workdir)
    payloads = mixed_payloads()
    with service.running(workers=2):
        # One job of each kind first, so "start" memory is of warmed-up processes.
        warm_up = upload_many(service.base_url, payloads, concurrency=2, total=2 * len(payloads))
        settle(service.base_url, warm_up.accepted, timeout=60)
        memory_start = memory_of(service)
        tally = Tally()
        uploads = threading.Thread(
            target=upload_many,
            args=(service.base_url, payloads),
            kwargs={"concurrency": clients, "seconds": seconds, "pause": pause, "tally": tally},
        )
        started = time.monotonic()
        uploads.start()
        kills = 0
        while uploads.is_alive():
            uploads.join(kill_every)
            if uploads.is_alive():
                victim = next(w for w in service.workers if w.poll() is None)
                victim.kill()
                victim.wait(10)
                service.start_worker()
                kills += 1
        upload_seconds = time.monotonic() - started
        # Lost means "still pending once the queue is empty", not "slower than the clients".
        drained = wait_for(lambda: _backlog(env) == 0, timeout=DRAIN_TIMEOUT, every=1.0)
        drain_seconds = time.monotonic() - started - upload_seconds
        states = settle(service.base_url, tally.accepted, timeout=60)
        memory_end = memory_of(service)
        ready = [a for a in tally.accepted if states[a.location] == "ready"]
        problems = check_thumbnails(ready)
    # Jobs finished on a later delivery: those a killed worker held (or a slow heartbeat).
    redelivered = sum(
        1
        for line in service.logs()
        if line.get("msg") == "thumbnails ready" and line.get("receive_count") != 1
    )
    return {
        "minutes": round(upload_seconds / 60, 2),
        "worker_kills": kills,
        "queue_drained": drained,
        "drain_seconds_after_uploads": round(drain_seconds, 1),
        "uploads": tally.attempts,
        "accepted_202": len(tally.accepted),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "connection_errors": tally.connection_errors,
        "server_errors_5xx": tally.server_errors,
        "ready": len(ready),
        "ready_on_a_later_delivery": redelivered,
        "failed": sum(1 for s in states.values() if s == "failed"),
        "lost": sum(1 for s in states.values() if s == "pending"),
        "thumbnail_problems": problems[:20],
        "memory_start": asdict(memory_start) | {"summary": memory_start.describe()},
        "memory_end": asdict(memory_end) | {"summary": memory_end.describe()},
    }


if __name__ == "__main__":
    main()
