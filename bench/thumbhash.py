"""Measure the ThumbHash placeholder's cost per image (target: under 2 ms).

The worker computes it from the smallest thumbnail while that is still in memory
(``worker.thumbnails.thumbhash``: convert to RGBA, encode, base64); this times exactly
that call on thumbnails of the sizes and modes the worker makes, and, for scale, the
whole ``render_thumbnails`` of the originals they come from. Results:
bench/results/thumbhash.md.

    .venv/bin/python bench/thumbhash.py
"""

import io
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from PIL import Image

from sharer.formats import JPEG, PNG, ImageFormat
from sharer.ids import new_image_id
from sharer.messages import job_for_upload
from support import images
from worker.thumbnails import render_thumbnails, thumbhash

BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "thumbhash.md"
RUNS = 300
FULL_RUNS = 15


def _timed(call: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def cases() -> dict[str, tuple[bytes, ImageFormat, bool]]:
    """Originals whose smallest thumbnails cover the shapes and modes the worker makes."""
    return {
        "JPEG photo 1600x1200 (small 100x75 RGB)": (
            images.jpeg((1600, 1200), seed=2, quality=90),
            JPEG,
            False,
        ),
        "JPEG portrait 1200x1600 (small 75x100 RGB)": (
            images.jpeg((1200, 1600), seed=3, quality=90),
            JPEG,
            False,
        ),
        "PNG RGBA 800x800 (small 100x100 RGBA)": (images.png((800, 800), mode="RGBA"), PNG, True),
        "JPEG panorama (small 100x2 RGB)": (images.panorama(), JPEG, False),
        "JPEG grey 800x600 (small 100x75 L)": (images.jpeg((800, 600), mode="L"), JPEG, False),
    }


def main() -> None:
    """Time each case; write the table."""
    rows = []
    for label, (data, source, alpha) in cases().items():
        specs = job_for_upload(new_image_id(), source, alpha).thumbnails
        rendered = render_thumbnails(data, source, specs)
        # The small thumbnail as the worker holds it before encoding (same size and mode).
        small: Image.Image = Image.open(io.BytesIO(rendered.encoded["small"]))
        small.load()
        if alpha:
            small = small.convert("RGBA")
        hash_ms = _timed(partial(thumbhash, small), RUNS)
        full_ms = _timed(partial(render_thumbnails, data, source, specs), FULL_RUNS)
        hashed = statistics.median(hash_ms)
        whole = statistics.median(full_ms)
        rows.append(
            f"| {label} | {small.width}x{small.height} | {hashed:.3f} | "
            f"{sorted(hash_ms)[int(RUNS * 0.95)]:.3f} | {max(hash_ms):.3f} | {whole:.1f} | "
            f"{hashed / whole:.1%} |"
        )
        print(rows[-1], flush=True)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    RESULTS.write_text(
        "\n".join(
            [
                "# ThumbHash benchmark",
                "",
                f"- date: {now}; {platform.machine()}, Python {platform.python_version()} "
                "(the machine is shared)",
                "- command: `.venv/bin/python bench/thumbhash.py`",
                f"- ThumbHash: `worker.thumbnails.thumbhash` on the small thumbnail, {RUNS} "
                "runs in-process (RGBA conversion, `worker.thumbhash` encode on NumPy, base64)",
                f"- whole: `render_thumbnails` of the original (decode, three thumbnails, "
                f"hash), median of {FULL_RUNS}",
                "- target: under 2 ms per image",
                "",
                "| original | small thumbnail | ThumbHash median ms | p95 ms | max ms "
                "| whole render median ms | share |",
                "|---|---|---:|---:|---:|---:|---:|",
                *rows,
                "",
            ]
        )
    )


if __name__ == "__main__":
    main()
