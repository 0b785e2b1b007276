"""A real worker process holds its memory budget: several 50 MP PNGs, or several of the
worst accepted animations, queued at once, more threads than the budget has room for,
and the peak resident set (VmHWM) stays under it."""

import json
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from server.upload_intake import accept_upload
from sharer.backends import open_queue, open_storage
from sharer.delete_tokens import new_delete_token, token_digest
from sharer.key_scheme import status_key
from sharer.settings import ServerSettings
from support import images
from support.memory import process_memory
from support.services import Service, local_env

pytestmark = pytest.mark.e2e

# 8000 x 6000 RGB: 192 MB as Pillow holds it, three at once would need ~580 MB.
SIZE = (8000, 6000)
JOBS = 3
THREADS = 3
BUDGET_MB = 400
JOBS_TIMEOUT_SECONDS = 90.0


def test_peak_memory_stays_under_the_budget_with_50_mp_pngs(tmp_path: Path) -> None:
    _assert_budget_holds(tmp_path, images.solid_png(SIZE))


def test_peak_memory_stays_under_the_budget_with_the_worst_accepted_animations(
    tmp_path: Path,
) -> None:
    # 138 frames of 600x600 (the default bound on frames x pixels): every frame of the
    # large thumbnail is the whole canvas, the most a job holds (bench/results/
    # animations.md); two such jobs at once would pass the budget.
    gradient = Image.linear_gradient("L").resize((600, 600))
    frames = [gradient.copy() for _ in range(138)]
    for index, frame in enumerate(frames):  # a square moving across: no two frames alike
        ImageDraw.Draw(frame).rectangle((index * 4, 100, index * 4 + 60, 160), fill=255)
    original = images.encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40)
    _assert_budget_holds(tmp_path, original)


def _assert_budget_holds(tmp_path: Path, original: bytes) -> None:
    """Queue JOBS of ``original`` as the server does, run one worker of THREADS threads
    and a BUDGET_MB budget over them, and check its peak stayed under the budget."""
    env = local_env(tmp_path) | {
        "SHARER_WORKER_THREADS": str(THREADS),
        "SHARER_WORKER_MEMORY_BUDGET_MB": str(BUDGET_MB),
    }
    settings = ServerSettings.from_env(env)
    storage, queue = open_storage(settings.common), open_queue(settings.common)
    # Queued as the server queues them (the 1 MiB upload cap is not in the way here).
    jobs = [
        accept_upload(
            original,
            storage=storage,
            queue=queue,
            max_pixels=settings.max_pixels,
            delete_token_sha256=token_digest(new_delete_token()),
        )
        for _ in range(JOBS)
    ]
    service = Service(env, tmp_path)
    try:
        worker = service.start_worker()
        deadline = time.monotonic() + JOBS_TIMEOUT_SECONDS
        states: list[str] = []
        while time.monotonic() < deadline:
            states = [
                json.loads(storage.get(status_key(job.image_id)).body)["state"] for job in jobs
            ]
            if all(state != "pending" for state in states) or worker.poll() is not None:
                break
            time.sleep(0.2)
        [memory] = process_memory(worker.pid)
    finally:
        service.stop()

    assert states == ["ready"] * JOBS
    for job in jobs:
        for spec in job.thumbnails:
            assert storage.get(spec.key).body
    assert memory.peak_kib < BUDGET_MB * 1024, memory
