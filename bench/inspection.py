"""Measure upload inspection: time on a typical JPEG, peak memory on 49 MP images.

Each case runs in a fresh interpreter; memory is the growth of the peak RSS (VmHWM)
over what the interpreter held before inspecting.

    .venv/bin/python bench/inspection.py
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from server.inspection import InvalidImage, inspect_upload  # noqa: E402
from support import images  # noqa: E402
from support.faults import process_memory  # noqa: E402

MAX_PIXELS = 50_000_000
SIDE = 7000  # 49 MP


def _vm_hwm_kb() -> int:
    return process_memory(os.getpid())[0].peak_kib


def child(path: Path, runs: int) -> None:
    """Inspect ``path`` ``runs`` times; print median ms and peak RSS growth as JSON."""
    data = path.read_bytes()
    before = _vm_hwm_kb()
    times = []
    outcome = "accepted"
    for _ in range(runs):
        started = time.perf_counter()
        try:
            inspect_upload(data, max_pixels=MAX_PIXELS)
        except InvalidImage as exc:
            outcome = exc.reason
        times.append(time.perf_counter() - started)
    result = {
        "outcome": outcome,
        "median_ms": statistics.median(times) * 1000,
        "peak_growth_kb": _vm_hwm_kb() - before,
    }
    print(json.dumps(result))


def cases() -> dict[str, bytes]:
    """The measured uploads: a ~500 KB 2 MP photo, and 49 MP single-colour images."""
    solid = Image.new("RGB", (SIDE, SIDE), (90, 140, 200))
    return {
        "JPEG 1730x1150 (2 MP)": images.jpeg((1730, 1150), quality=90),
        "PNG 7000x7000 solid": images.solid_png((SIDE, SIDE)),
        "GIF 7000x7000 solid": images.encode(solid.convert("P"), "GIF"),
        "WebP 7000x7000 solid (lossless)": images.encode(solid, "WEBP", lossless=True),
        "WebP 3535x3535 solid (12.5 MP, its cap)": images.encode(
            solid.crop((0, 0, 3535, 3535)), "WEBP", lossless=True
        ),
    }


def main() -> None:
    """Run every case in its own interpreter and print a markdown table."""
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]))
        return
    print("| upload | bytes | outcome | median ms | peak RSS growth MB |\n|---|---:|---|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        for name, data in cases().items():
            path = Path(scratch) / "upload"
            path.write_bytes(data)
            runs = "15" if "JPEG" in name else "3"
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(path), runs],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout)
            print(
                f"| {name} | {len(data):,} | {result['outcome']} | {result['median_ms']:.1f} "
                f"| {result['peak_growth_kb'] / 1024:.1f} |"
            )


if __name__ == "__main__":
    main()
