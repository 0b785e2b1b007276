"""The worker's memory budget: reservations wait, in order; a job over budget runs alone;
the decode cost is read from the header at the scale that will be decoded."""

import threading
import time
from collections.abc import Callable

from sharer.formats import GIF, JPEG, PNG, WEBP
from sharer.messages import PlannedThumbnail
from sharer.thumbnail_sizes import ThumbnailSize
from support import images
from worker.memory import MemoryBudget, job_budget, resident_bytes
from worker.thumbnails import decode_cost

MB = 1024 * 1024
JOIN_SECONDS = 10.0
# The sizes these tests reason about, fixed here rather than taken from THUMBNAIL_SIZES:
# the figures below follow from them, and they test the mechanism, not the product's sizes.
SIZES = (
    ThumbnailSize("large", 600, 600),
    ThumbnailSize("medium", 300, 300),
    ThumbnailSize("small", 100, 100),
)
SPECS = [PlannedThumbnail(s.name, s.width, s.height, f"k/{s.name}", JPEG) for s in SIZES]


def run_jobs(budget: MemoryBudget, costs: list[int]) -> list[tuple[int, str, int]]:
    """Start a job per cost, in that order (each holds its reservation briefly); return
    the (job, event, bytes in use) log."""
    log: list[tuple[int, str, int]] = []
    lock = threading.Lock()

    def job(number: int, cost: int) -> Callable[[], None]:
        def run() -> None:
            with budget.reserved(cost):
                with lock:
                    log.append((number, "start", budget.in_use))
                time.sleep(0.05)
                with lock:
                    log.append((number, "end", budget.in_use))

        return run

    threads = []
    for number, cost in enumerate(costs):
        thread = threading.Thread(target=job(number, cost))
        thread.start()
        threads.append(thread)
        time.sleep(0.01)  # so they ask in this order
    for thread in threads:
        thread.join(JOIN_SECONDS)
    return log


def test_reservations_never_exceed_the_budget_and_wait_in_arrival_order() -> None:
    budget = MemoryBudget(100)

    log = run_jobs(budget, [60, 30, 50, 10])

    assert max(in_use for _, _, in_use in log) <= 100
    starts = [job for job, event, _ in log if event == "start"]
    assert starts == [0, 1, 2, 3]
    # The 50 waited for the 60 to end; the 10 behind it waited too, though it fit.
    assert log.index((0, "end", 90)) < log.index(next(e for e in log if e[:2] == (2, "start")))
    assert budget.in_use == 0


def test_a_job_over_the_whole_budget_runs_alone() -> None:
    budget = MemoryBudget(100)

    log = run_jobs(budget, [30, 500, 30])

    big_start = log.index(next(e for e in log if e[:2] == (1, "start")))
    big_end = log.index(next(e for e in log if e[:2] == (1, "end")))
    # Nothing else starts or runs while it does: it holds the whole budget.
    assert [e for e in log[big_start : big_end + 1] if e[0] != 1] == []
    assert log[big_start][2] == 100
    assert [job for job, event, _ in log if event == "end"] == [0, 1, 2]


def test_jobs_get_what_the_process_does_not_hold_already() -> None:
    resident = resident_bytes()

    budget = job_budget(1024)

    assert 10 * MB < resident < 1024 * MB
    assert abs(budget.total_bytes - (1024 * MB - resident)) < 16 * MB


def test_decode_cost_is_the_decoded_pixels_as_pillow_holds_them() -> None:
    png = images.png((1000, 500), mode="RGB")
    paletted = images.gif((1000, 500))
    jpeg = images.jpeg((2400, 1800), seed=1)

    # RGB is held in four bytes a pixel; a palette image in one, plus its RGB(A) copy.
    assert decode_cost(png, PNG, SPECS) == 1000 * 500 * 4 + len(png)
    assert decode_cost(paletted, GIF, SPECS) == 1000 * 500 * (1 + 4) + len(paletted)
    # A JPEG is decoded at 1/4 scale here (600x450 is the large thumbnail itself).
    assert decode_cost(jpeg, JPEG, SPECS) == 600 * 450 * 4 + len(jpeg)


def test_decode_cost_of_webp_counts_the_decoder_canvases() -> None:
    webp = images.webp((800, 600))

    assert decode_cost(webp, WEBP, SPECS) == 800 * 600 * (4 + 8) + len(webp)
