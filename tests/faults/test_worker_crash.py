"""Workers die (SIGKILL) or are stopped (SIGTERM) while they hold jobs: nothing is lost."""

import hashlib
import io
import signal
import threading
import time

import pytest
import requests
from PIL import Image

from faults.conftest import Stack
from sharer.thumbnail_sizes import THUMBNAIL_NAMES
from support.load import Accepted, check_thumbnails, settle
from support.waiting import wait_for

pytestmark = pytest.mark.e2e

# Jobs of a few tenths of a second each (1600x1200 JPEGs), so a worker is caught holding
# some, and enough of them that it is still busy when it is killed.
BATCH = 12


class TornReadWatch:
    """Reads every thumbnail over and over while workers write them (bounded in rounds
    and time); every 200 must be a whole object: the body hashes to its ETag and decodes."""

    def __init__(self, accepted: list[Accepted], *, rounds: int = 200, seconds: float = 60):
        self.urls = [a.urls[name] for a in accepted for name in THUMBNAIL_NAMES]
        self.reads = 0
        self.torn: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(rounds, seconds))

    def __enter__(self) -> "TornReadWatch":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _watch(self, rounds: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with requests.Session() as session:
            for _ in range(rounds):
                time.sleep(0.02)  # leave the CPU to the workers being watched
                for url in self.urls:
                    if self._stop.is_set() or time.monotonic() > deadline:
                        return
                    response = session.get(url, timeout=10)
                    if response.status_code == 200:
                        self.reads += 1
                        self._inspect(url, response)

    def _inspect(self, url: str, response: requests.Response) -> None:
        etag = response.headers.get("ETag", "").strip('"')
        if hashlib.md5(response.content).hexdigest() != etag:
            self.torn.append(f"{url}: body does not match its ETag {etag}")
            return
        try:
            with Image.open(io.BytesIO(response.content)) as image:
                image.load()
        except OSError as exc:
            self.torn.append(f"{url}: {exc}")


def test_jobs_held_by_a_killed_worker_are_finished_by_another(stack: Stack) -> None:
    service = stack.service
    service.start_server()
    accepted = stack.upload_slow_batch(BATCH)
    victim = service.start_worker()
    with TornReadWatch(accepted) as watch:
        assert wait_for(lambda: stack.backends.in_flight() > 0, timeout=20), "never took a job"
        victim.kill()
        assert victim.wait(10) == -signal.SIGKILL
        held_by_the_dead = stack.backends.in_flight()
        service.start_worker()
        states = settle(service.base_url, accepted, timeout=60)
    assert held_by_the_dead > 0, "the worker was killed holding no job"
    assert set(states.values()) == {"ready"}
    assert check_thumbnails(accepted) == []

    # The survivor got the dead worker's jobs back once their visibility timed out. It
    # logs a job after recording it ready, so the last line may trail the settle a little.
    def survivor_redid_a_job() -> bool:
        done = stack.logged("worker-1", "thumbnails ready")
        return any(line["receive_count"] != 1 for line in done)

    assert wait_for(survivor_redid_a_job, timeout=10, every=0.2)
    assert watch.reads > 0
    assert watch.torn == []


def test_sigterm_mid_batch_finishes_the_held_jobs_and_exits_0(local_stack: Stack) -> None:
    stack, service = local_stack, local_stack.service
    service.start_server()
    accepted = stack.upload_slow_batch(BATCH)
    worker = stack.start_worker_holding_jobs()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(5 + 5) == 0  # within the 5 s grace period, plus start-up slack
    assert stack.logged("worker-0", "worker stopped")[-1]["all_jobs_finished"] is True
    assert stack.backends.in_flight() == 0, "a job was left hidden instead of finished"
    service.start_worker()
    assert set(settle(service.base_url, accepted, timeout=60).values()) == {"ready"}


def test_sigterm_returns_jobs_it_cannot_finish_within_the_grace_period(stack: Stack) -> None:
    service = stack.service
    service.start_server()
    accepted = stack.upload_slow_batch(BATCH)
    # Originals held far past a 1 s grace period.
    worker = stack.start_worker_stuck_on_originals(SHARER_WORKER_GRACE_SECONDS="1")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(10) == 0  # long before the held requests would have returned
    assert stack.logged("worker-0", "worker stopped")[-1]["all_jobs_finished"] is False
    # Released, not left hidden: nothing waits for a visibility timeout.
    assert stack.backends.in_flight() == 0
    stack.let_originals_through()
    service.start_worker()
    assert set(settle(service.base_url, accepted, timeout=60).values()) == {"ready"}
