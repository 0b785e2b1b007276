"""500 uploads at concurrency 16 against gunicorn (2 processes) and 2 worker processes:
no 5xx, nothing lost, all three thumbnails fetchable, memory reported at start and end."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.load import check_thumbnails, mixed_payloads, settle, upload_many
from support.memory import ServiceMemory, memory_of
from support.services import Service, local_env

pytestmark = [pytest.mark.e2e, pytest.mark.load]

UPLOADS = 500
CONCURRENCY = 16
# Catches gross leaks only: a worker keeping its decoded images (1-5 MB each) would grow
# by hundreds of MiB. Allocator noise in a worker's per-thread arenas reaches tens of MiB
# on a quiet machine, where its jobs overlap most (it crossed 32 MiB there), so the bound
# leaves it room. A server keeping every upload (~90 KB each, ~22 MiB per process) slips
# under it: the soak (bench/soak.py, 10 minutes, thousands of uploads) is the check for
# slow leaks.
MAX_GROWTH_KIB = 64 * 1024


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with Service(local_env(tmp_path), tmp_path).running(workers=2) as running:
        yield running


def _growth(start: ServiceMemory, end: ServiceMemory) -> dict[int, int]:
    before = {m.pid: m.rss_kib for m in start.server + start.workers}
    return {m.pid: m.rss_kib - before[m.pid] for m in end.server + end.workers if m.pid in before}


def test_500_uploads_at_concurrency_16(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = mixed_payloads()
    # Every kind of job once, so the start figures are of warmed-up processes.
    warm_up = upload_many(service.base_url, payloads, concurrency=2, total=len(payloads))
    assert set(settle(service.base_url, warm_up.accepted, timeout=60).values()) == {"ready"}
    start = memory_of(service)

    started = time.monotonic()
    tally = upload_many(service.base_url, payloads, concurrency=CONCURRENCY, total=UPLOADS)
    uploaded = time.monotonic()
    states = settle(service.base_url, tally.accepted, timeout=120)
    settled = time.monotonic()
    problems = check_thumbnails(tally.accepted, concurrency=CONCURRENCY)
    end = memory_of(service)

    with capsys.disabled():
        print(
            f"\nload: {tally.attempts} uploads, {len(tally.accepted)} accepted, "
            f"statuses {dict(tally.statuses)}, connection errors {tally.connection_errors}, "
            f"ready {sum(s == 'ready' for s in states.values())}; uploads took "
            f"{uploaded - started:.1f} s, all ready {settled - started:.1f} s after the first"
            f"\nload: start {start.describe()}\nload: end   {end.describe()}"
        )
    assert tally.attempts == UPLOADS
    assert tally.server_errors == 0
    assert tally.statuses == {202: UPLOADS}
    assert set(states.values()) == {"ready"}
    assert problems == []
    growth = _growth(start, end)
    # sharer-server, nginx's master and 2 workers, gunicorn's master and 2 workers, and
    # our 2 thumbnail workers: none of them grew.
    assert len(growth) == 1 + 3 + 3 + 2
    assert max(growth.values()) < MAX_GROWTH_KIB, growth
