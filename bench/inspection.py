"""Measure upload inspection: time on typical JPEGs, peak memory on 49 MP images.

Each case runs in a fresh interpreter; memory is the growth of the peak RSS (VmHWM)
over what the interpreter held before inspecting. For JPEGs, the same run also times
what the skeleton proof replaced: Pillow decoding the whole file at 1/8 scale. Results:
bench/results/inspection.md.

    .venv/bin/python bench/inspection.py
"""

import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pillow_heif
from PIL import Image

from server.inspection import InvalidImage, inspect_upload
from sharer.formats import JPEG, sniff
from support import hostile_images, images
from support.memory import process_memory

BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "inspection.md"
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
        "full_decode_ms": _full_decode_ms(data, runs) if sniff(data[:16]) is JPEG else None,
    }
    print(json.dumps(result))


def _full_decode_ms(data: bytes, runs: int) -> float:
    """The median time for Pillow to decode every scan of a JPEG at 1/8 scale, luma only."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:
            image.draft("L", (image.width // 8, image.height // 8))
            image.load()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def cases() -> dict[str, bytes]:
    """The measured uploads: ~500 KB 2 MP photos, 49 MP single-colour images, and the
    phone formats at their cap (a quarter of it)."""
    solid = Image.new("RGB", (SIDE, SIDE), (90, 140, 200))
    at_cap = solid.crop((0, 0, 3535, 3535))
    heif_at_cap = io.BytesIO()
    # HEVC codes whole blocks: the declared (ispe) size of a 3535-pixel side is 3536.
    pillow_heif.from_pillow(at_cap.crop((0, 0, 3520, 3520))).save(
        heif_at_cap, format="HEIF", quality=50
    )
    return {
        "JPEG 1730x1150 (2 MP)": images.jpeg((1730, 1150), quality=90),
        "JPEG 1730x1150 progressive": images.jpeg((1730, 1150), quality=90, progressive=True),
        "PNG 7000x7000 solid": images.solid_png((SIDE, SIDE)),
        "GIF 7000x7000 solid": images.encode(solid.convert("P"), "GIF"),
        "WebP 7000x7000 solid (lossless)": images.encode(solid, "WEBP", lossless=True),
        "WebP 3535x3535 solid (12.5 MP, its cap)": images.encode(at_cap, "WEBP", lossless=True),
        "HEIC 1730x1150 photo": images.heif((1730, 1150)),
        "HEIC 3520x3520 solid (12.4 MP, at its cap)": heif_at_cap.getvalue(),
        "AVIF 1730x1150 photo": images.avif((1730, 1150)),
        "AVIF 3535x3535 solid (12.5 MP, its cap)": images.encode(at_cap, "AVIF", speed=10),
        "AVIF 7000x7000 coded, 64x64 declared": hostile_images.declared_as(
            images.encode(solid, "AVIF", speed=10, quality=10), (64, 64)
        ),
    }


def main() -> None:
    """Run every case in its own interpreter; print the table and write it to RESULTS."""
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]))
        return
    lines = [
        "# Upload inspection benchmark",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()} (the machine is shared)",
        "- command: `.venv/bin/python bench/inspection.py`",
        "- time: median of 15 runs (JPEG) or 3 (49 MP), in-process; memory: peak RSS growth",
        "",
        "| upload | bytes | outcome | median ms | peak RSS growth MB "
        "| full decode at 1/8, median ms |",
        "|---|---:|---|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as scratch:
        for name, data in cases().items():
            path = Path(scratch) / "upload"
            path.write_bytes(data)
            runs = "15" if sniff(data[:16]) is JPEG else "3"
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(path), runs],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout)
            full = "-" if result["full_decode_ms"] is None else f"{result['full_decode_ms']:.1f}"
            lines.append(
                f"| {name} | {len(data):,} | {result['outcome']} | {result['median_ms']:.1f} "
                f"| {result['peak_growth_kb'] / 1024:.1f} | {full} |"
            )
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)


if __name__ == "__main__":
    main()
