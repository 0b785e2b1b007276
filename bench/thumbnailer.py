"""Benchmark our thumbnailer against naive Pillow, pyvips and the decode floor.

Every engine runs over every corpus image in a subprocess of its own (so the peak RSS
is that engine's on that image): warm-up runs, then ``--runs`` timed runs of all
three thumbnails of the image, planned as the server plans them (JPEG, or WebP where
the image has alpha). The table gives the median wall time, ratios to ours, the median
CPU time (all threads: libvips uses several), output bytes, peak RSS, and the PSNR of
each engine's large thumbnail against a reference (full decode, LANCZOS straight to the
size, no encode). Two floors: decoding only (JPEG at its DCT scale), and that plus
encoding our thumbnails' pixels again (what no thumbnailer with these outputs can skip).
A second table gives the bytes and encode time of the WebP thumbnails (alpha images) at
WebP methods 0 to 4, since the method trades one for the other. It is printed and written
to bench/results/thumbnailer.md.

    .venv/bin/python bench/thumbnailer.py [--runs 9] [--warmup 2] [--rounds 3] [--only png]

Needs pyvips and pyvips-binary (the ``bench`` extra).
"""

import argparse
import io
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import corpus
import PIL
from engines import ENGINES
from PIL import Image, ImageChops, ImageOps, ImageStat

from server.inspection import inspect_upload
from sharer.formats import ImageFormat
from sharer.ids import new_image_id
from sharer.messages import PlannedThumbnail, job_for_upload
from support.memory import process_memory
from worker.thumbnails import WEBP_METHOD, WEBP_QUALITY

BENCH = Path(__file__).resolve().parent

ENGINE_NAMES = tuple(ENGINES)
RESULTS = BENCH / "results" / "thumbnailer.md"


@dataclass(frozen=True)
class Measure:
    """One engine on one image."""

    median_ms: float
    cpu_ms: float
    output_bytes: int
    peak_rss_mb: float
    psnr: float | None


def plan(data: bytes) -> tuple[ImageFormat, tuple[PlannedThumbnail, ...]]:
    """The source format and thumbnail specs, exactly as the server would queue them."""
    uploaded = inspect_upload(data, max_pixels=50_000_000)
    job = job_for_upload(new_image_id(), uploaded.image_format, uploaded.has_alpha)
    return uploaded.image_format, job.thumbnails


def child(engine_name: str, path: Path, runs: int, warmup: int, save_to: Path) -> None:
    """Time one engine on one image; print a JSON line; keep its outputs in ``save_to``."""
    if engine_name == "pyvips":
        import pyvips

        pyvips.cache_set_max(0)  # else repeated runs hit libvips' operation cache
    engine = ENGINES[engine_name]
    data = path.read_bytes()
    source, specs = plan(data)
    for _ in range(warmup):
        engine(data, source, specs)
    times, cpu_times = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        outputs = engine(data, source, specs)
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
    peak_kb = _peak_rss_kb()
    save_to.mkdir(parents=True, exist_ok=True)
    for name, encoded in outputs.items():
        (save_to / name).write_bytes(encoded)
    print(
        json.dumps(
            {
                "median_ms": statistics.median(times) * 1000,
                "cpu_ms": statistics.median(cpu_times) * 1000,
                "output_bytes": sum(len(b) for b in outputs.values()),
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def _peak_rss_kb() -> int:
    # VmHWM starts afresh at exec; ru_maxrss would carry over the orchestrator's peak,
    # which the child inherits through fork.
    return process_memory(os.getpid())[0].peak_kib


def measure(engine_name: str, path: Path, args: argparse.Namespace, scratch: Path) -> Measure:
    """Run ``child`` in a fresh interpreter and score the large thumbnail it made."""
    save_to = scratch / engine_name / path.name
    command = [
        sys.executable,
        __file__,
        "--child",
        engine_name,
        str(path),
        "--runs",
        str(args.runs),
        "--warmup",
        str(args.warmup),
        "--save-to",
        str(save_to),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    large = save_to / "large"
    psnr = _psnr(path.read_bytes(), large.read_bytes()) if large.exists() else None
    return Measure(
        result["median_ms"], result["cpu_ms"], result["output_bytes"], result["peak_rss_mb"], psnr
    )


def _psnr(original: bytes, thumbnail: bytes) -> float:
    """PSNR (dB) of ``thumbnail`` against the reference of the same size, over mid-grey."""
    made = Image.open(io.BytesIO(thumbnail)).convert("RGBA")
    reference = ImageOps.exif_transpose(Image.open(io.BytesIO(original)))
    reference = reference.convert("RGBA").resize(made.size, Image.Resampling.LANCZOS)
    grey = Image.new("RGBA", made.size, (128, 128, 128, 255))
    a = Image.alpha_composite(grey, made).convert("RGB")
    b = Image.alpha_composite(grey, reference).convert("RGB")
    mse = sum(ImageStat.Stat(ImageChops.difference(a, b)).rms[i] ** 2 for i in range(3)) / 3
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def render(rows: dict[str, dict[str, Measure]], sizes: dict[str, int]) -> str:
    """The results as a markdown table, one row per image and a total."""
    head = (
        "| image | KB | ours ms | pyvips ms | naive ms | floor ms | floor+encode ms "
        "| ours/pyvips | ours/naive | ours/floor | ours/floor+encode "
        "| CPU ms ours/vips | out KB ours/vips/naive | peak RSS MB ours/vips/naive "
        "| PSNR dB ours/vips/naive |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for name, by_engine in rows.items():
        ms = {e: by_engine[e].median_ms for e in ENGINE_NAMES}
        trio = [by_engine[e] for e in ("ours", "pyvips", "naive")]
        lines.append(
            f"| {name} | {sizes[name] // 1024} | {ms['ours']:.1f} | {ms['pyvips']:.1f} "
            f"| {ms['naive']:.1f} | {ms['floor']:.1f} | {ms['floor+encode']:.1f} "
            f"| {ms['ours'] / ms['pyvips']:.2f}x | {ms['ours'] / ms['naive']:.2f}x "
            f"| {ms['ours'] / ms['floor']:.2f}x | {ms['ours'] / ms['floor+encode']:.2f}x "
            f"| {trio[0].cpu_ms:.1f} / {trio[1].cpu_ms:.1f} "
            f"| {' / '.join(f'{m.output_bytes / 1024:.0f}' for m in trio)} "
            f"| {' / '.join(f'{m.peak_rss_mb:.0f}' for m in trio)} "
            f"| {' / '.join(f'{m.psnr:.1f}' if m.psnr else '-' for m in trio)} |"
        )
    total = {e: sum(r[e].median_ms for r in rows.values()) for e in ENGINE_NAMES}
    cpu = {e: sum(r[e].cpu_ms for r in rows.values()) for e in ("ours", "pyvips")}
    lines.append(
        f"| **total** | | **{total['ours']:.1f}** | **{total['pyvips']:.1f}** "
        f"| **{total['naive']:.1f}** | **{total['floor']:.1f}** "
        f"| **{total['floor+encode']:.1f}** "
        f"| **{total['ours'] / total['pyvips']:.2f}x** "
        f"| **{total['ours'] / total['naive']:.2f}x** "
        f"| **{total['ours'] / total['floor']:.2f}x** "
        f"| **{total['ours'] / total['floor+encode']:.2f}x** "
        f"| **{cpu['ours']:.0f} / {cpu['pyvips']:.0f}** | | | |"
    )
    return head + "\n".join(lines) + "\n"


EFFORTS = (0, 1, 2, 4)


def effort_table(paths: list[Path]) -> str:
    """Bytes and encode CPU time (median of 3) of our WebP thumbnails at each method."""
    lines = []
    for path in paths:
        data = path.read_bytes()
        source, specs = plan(data)
        outputs = ENGINES["ours"](data, source, specs)
        webp = [
            Image.open(io.BytesIO(outputs[spec.name])).copy()
            for spec in specs
            if spec.image_format.name == "WEBP"
        ]
        if not webp:
            continue
        cells = []
        for method in EFFORTS:
            times, size = [], 0
            for _ in range(3):
                started, size = time.process_time(), 0
                for image in webp:
                    buffer = io.BytesIO()
                    image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=method)
                    size += buffer.tell()
                times.append(time.process_time() - started)
            cells.append(f"{size / 1024:.1f} KB, {statistics.median(times) * 1000:.1f} ms")
        lines.append(f"| {path.name} | " + " | ".join(cells) + " |")
    head = (
        "| image | "
        + " | ".join(f"method {m}{' (ours)' if m == WEBP_METHOD else ''}" for m in EFFORTS)
        + " |\n|---|"
        + "---:|" * len(EFFORTS)
        + "\n"
    )
    return head + "\n".join(lines) + "\n"


def machine_note() -> str:
    """nproc, CPU model and library versions, for the results header."""
    import pyvips

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    vips = ".".join(str(pyvips.version(i)) for i in range(3))
    return (
        f"{os.cpu_count()} CPUs ({cpu}); Python {platform.python_version()}, "
        f"Pillow {PIL.__version__}, libvips {vips} (pyvips {pyvips.__version__})"
    )


def _load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    """Parse arguments; run as the orchestrator, or as one measuring child."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure everything this many times and keep each cell's lowest median "
        "(damps other processes' load on a shared machine)",
    )
    parser.add_argument("--only", help="substring of the image names to run")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--save-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.runs, args.warmup, args.save_to)
        return
    load_before = _load_average()
    paths = [corpus.CORPUS_DIR / name for name in corpus.CORPUS]
    if not all(p.exists() for p in paths):
        paths = corpus.build()
    paths = [p for p in paths if not args.only or args.only in p.name]
    rows: dict[str, dict[str, Measure]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.rounds):
            for index, path in enumerate(paths):
                # Rotate the engine order per image and round, so that slow drift in the
                # machine's load favours no engine.
                shift = (index + round_number) % len(ENGINE_NAMES)
                order = ENGINE_NAMES[shift:] + ENGINE_NAMES[:shift]
                row = rows.setdefault(path.name, {})
                for engine_name in order:
                    measured = measure(engine_name, path, args, Path(scratch))
                    kept = row.get(engine_name)
                    if kept is None or measured.median_ms < kept.median_ms:
                        row[engine_name] = measured
                print(f"round {round_number + 1}: measured {path.name}", file=sys.stderr)
    command = " ".join(["bench/thumbnailer.py", *sys.argv[1:]])
    report = (
        f"# Thumbnailer benchmark\n\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine_note()}.\n\n"
        f"Command: `.venv/bin/python {command}` ({args.warmup} warm-up runs, median of "
        f"{args.runs}, one subprocess per engine and image; lowest median of "
        f"{args.rounds} round(s)). Load average before/after: {load_before} / "
        f"{_load_average()}.\n\n"
        + render(rows, {p.name: p.stat().st_size for p in paths})
        + "\n## WebP method: bytes against encode time\n\n"
        "The three thumbnails of each alpha image, our pixels, quality "
        f"{WEBP_QUALITY}, lossless alpha; encode CPU time, median of 3.\n\n" + effort_table(paths)
    )
    print(report)
    if not args.only:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(report)


if __name__ == "__main__":
    main()
