"""Bytes, SSIMULACRA2 and worker CPU of the AVIF and WebP variants of JPEG thumbnails.

Over the benchmark corpus (bench/corpus.py), every image whose thumbnails are JPEG:

1. Today's JPEG thumbnails are scored with SSIMULACRA2 (PyPI ``ssimulacra2``) against the
   thumbnail's own pixels before encoding. The metric needs its six scales (both sides at
   least 256 px), so scores are taken where a thumbnail has them; the settings chosen
   there apply to every size.
2. For each variant format, the lowest quality whose mean score is at least the JPEG's
   mean is found by bisection (at the worker's effort: WebP method, AVIF speed).
3. Bytes per size and format at those qualities, and the worker's CPU per image: today's
   thumbnailing (decode, resize, JPEG encodes, ThumbHash) against today's plus the
   variants, for each choice of the sizes that get AVIF.

Writes bench/results/variants.md. A few minutes on a quiet machine.

    .venv/bin/python bench/variants.py
"""

import argparse
import functools
import io
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import corpus
import PIL
from PIL import Image, features
from ssimulacra2 import compute_ssimulacra2

from server.inspection import inspect_upload
from sharer.formats import AVIF, JPEG, WEBP, ImageFormat
from sharer.ids import new_image_id
from sharer.messages import PlannedThumbnail, job_for_upload
from sharer.thumbnail_sizes import THUMBNAIL_NAMES
from sharer.thumbnail_variants import VARIANT_SIZES
from worker import thumbnails
from worker.thumbnails import encode_thumbnail, thumbhash, thumbnail_images

BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "variants.md"
# SSIMULACRA2 downsamples five times and stops below 8 px: six scales need 256 px.
SCORED_MIN_SIDE = 256
# Variant qualities searched (each format's encoder takes 0 to 100).
QUALITY_RANGE = {AVIF.name: (20, 95), WEBP.name: (40, 100)}
# The variant setting each format's quality is written to for the encoder.
QUALITY_SETTING = {AVIF.name: "AVIF_VARIANT_QUALITY", WEBP.name: "WEBP_VARIANT_QUALITY"}
ALL_SIZES = frozenset(THUMBNAIL_NAMES)


@dataclass(frozen=True)
class Choice:
    """Which sizes get an AVIF and which a WebP variant."""

    avif: frozenset[str]
    webp: frozenset[str]

    def label(self) -> str:
        """E.g. "AVIF all, WebP large"."""
        return f"AVIF {_sizes(self.avif)}, WebP {_sizes(self.webp)}"


# The choices whose CPU and served bytes are reported.
CHOICES: tuple[Choice, ...] = (
    Choice(frozenset(), ALL_SIZES),
    Choice(frozenset({"small", "medium"}), ALL_SIZES),
    Choice(frozenset({"large"}), ALL_SIZES),
    Choice(ALL_SIZES, ALL_SIZES),
    Choice(ALL_SIZES, frozenset()),
    Choice(frozenset({"small", "medium"}), frozenset({"large"})),
)


Thumbnail = tuple[str, Image.Image]  # (size name, display-ready pixels)


@dataclass
class Original:
    """One corpus image whose thumbnails are JPEG: its bytes, plan and thumbnails."""

    name: str
    data: bytes
    image_format: ImageFormat
    specs: tuple[PlannedThumbnail, ...]
    thumbnails: list[Thumbnail]


def originals(names: Sequence[str]) -> list[Original]:
    """The corpus images (all, or ``names``) the server would give JPEG thumbnails."""
    found = []
    for path in corpus.build():
        if names and path.name not in names:
            continue
        data = path.read_bytes()
        uploaded = inspect_upload(data, max_pixels=50_000_000)
        job = job_for_upload(new_image_id(), uploaded.image_format, uploaded.has_alpha)
        if any(spec.image_format is not JPEG for spec in job.thumbnails):
            continue
        _, made = thumbnail_images(data, uploaded.image_format, job.thumbnails)
        pixels = [(spec.name, image.convert("RGB")) for spec, image in made]
        found.append(Original(path.name, data, uploaded.image_format, job.thumbnails, pixels))
    return found


def _png(image: Image.Image) -> io.BytesIO:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    buffer.seek(0)
    return buffer


def score(reference: Image.Image, encoded: bytes) -> float:
    """SSIMULACRA2 of ``encoded`` against the pixels it was encoded from."""
    with Image.open(io.BytesIO(encoded)) as decoded:
        distorted = _png(decoded.convert("RGB"))
    return float(compute_ssimulacra2(_png(reference), distorted))


def scored(image: Image.Image) -> bool:
    """Whether SSIMULACRA2 has all its scales on ``image``."""
    return min(image.size) >= SCORED_MIN_SIDE


def encode(image: Image.Image, image_format: ImageFormat, quality: int | None) -> bytes:
    """The worker's encode of ``image``: the contract's JPEG (``quality`` None) or a
    variant at ``quality`` with the worker's other settings."""
    if quality is None:
        return encode_thumbnail(image, image_format)
    setting = QUALITY_SETTING[image_format.name]
    kept = getattr(thumbnails, setting)
    setattr(thumbnails, setting, quality)
    try:
        return encode_thumbnail(image, image_format, variant=True)
    finally:
        setattr(thumbnails, setting, kept)


def mean_score(found: list[Original], image_format: ImageFormat, quality: int | None) -> float:
    """Mean SSIMULACRA2 over every scored thumbnail of ``found``."""
    scores = [
        score(image, encode(image, image_format, quality))
        for original in found
        for _, image in original.thumbnails
        if scored(image)
    ]
    return statistics.fmean(scores)


def matching_quality(found: list[Original], image_format: ImageFormat, target: float) -> int:
    """The lowest quality whose mean score reaches ``target`` (bisection; the top of the
    range if none does)."""
    low, high = QUALITY_RANGE[image_format.name]
    while low < high:
        middle = (low + high) // 2
        reached = mean_score(found, image_format, middle)
        print(f"  {image_format.name} q{middle}: {reached:.2f}", flush=True)
        if reached >= target:
            high = middle
        else:
            low = middle + 1
    return low


def cpu_ms(work: Callable[[], object], runs: int) -> float:
    """Median CPU time of ``work`` in ms, this process only (AVIF encodes on one thread)."""
    times = []
    for _ in range(runs):
        started = time.process_time()
        work()
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


def today(original: Original) -> None:
    """Today's thumbnailing of ``original``: decode, resize, JPEG encodes, ThumbHash."""
    _, made = thumbnail_images(original.data, original.image_format, original.specs)
    for spec, image in made:
        encode_thumbnail(image, spec.image_format)
    thumbhash(made[-1][1])


@dataclass
class Measured:
    """Per image: today's CPU, each variant's CPU and bytes by (format, size)."""

    today_ms: float
    encode_ms: dict[tuple[str, str], float]
    kilobytes: dict[tuple[str, str], float]


def measure(original: Original, qualities: dict[str, int], runs: int) -> Measured:
    """CPU and bytes of ``original``'s thumbnails today and of each variant."""
    encode_ms: dict[tuple[str, str], float] = {}
    kilobytes: dict[tuple[str, str], float] = {}
    for name, image in original.thumbnails:
        for image_format in (JPEG, WEBP, AVIF):
            quality = qualities.get(image_format.name)
            body = encode(image, image_format, quality)
            kilobytes[image_format.name, name] = len(body) / 1000
            encode_ms[image_format.name, name] = cpu_ms(
                functools.partial(encode, image, image_format, quality), runs
            )
    return Measured(cpu_ms(lambda: today(original), runs), encode_ms, kilobytes)


def report(
    found: list[Original],
    targets: dict[str, float],
    qualities: dict[str, int],
    per_size_scores: dict[tuple[str, str], float],
    measured: dict[str, Measured],
    runs: int,
) -> str:
    """The Markdown of bench/results/variants.md."""
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [
        "# Thumbnail variants: bytes, SSIMULACRA2 and worker CPU",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.python_version()}, Pillow "
        f"{PIL.__version__} (libwebp {features.version('webp')}, libavif "
        f"{features.version('avif')} with aom), ssimulacra2 (PyPI, Python port).",
        "",
        "Command: `.venv/bin/python bench/variants.py`. Corpus: bench/corpus.py (the images "
        "whose thumbnails are JPEG: " + ", ".join(o.name for o in found) + "). "
        f"CPU: median of {runs} runs, process time, one thread. Load average at the end: {load}.",
        "",
        "## Quality at the JPEG's SSIMULACRA2",
        "",
        f"Scored where the metric has its six scales (thumbnail sides >= {SCORED_MIN_SIDE} "
        "px), against the thumbnail's pixels before encoding; the lowest quality whose "
        "mean reaches today's JPEG (quality "
        f"{thumbnails.JPEG_QUALITY}). WebP method {thumbnails.WEBP_VARIANT_METHOD}, AVIF "
        f"speed {thumbnails.AVIF_VARIANT_SPEED}, chroma {thumbnails.AVIF_VARIANT_SUBSAMPLING}.",
        "",
        "| format | quality | mean SSIMULACRA2 | by size |",
        "|---|---:|---:|---|",
    ]
    for image_format in (JPEG, WEBP, AVIF):
        by_size = ", ".join(
            f"{name} {per_size_scores[image_format.name, name]:.2f}"
            for name in THUMBNAIL_NAMES
            if (image_format.name, name) in per_size_scores
        )
        quality = qualities.get(image_format.name, thumbnails.JPEG_QUALITY)
        lines.append(
            f"| {image_format.name} | {quality} | {targets[image_format.name]:.2f} | {by_size} |"
        )
    lines += [
        "",
        "## Bytes per variant (sum over the corpus, KB)",
        "",
        "| size | JPEG | WebP | WebP/JPEG | AVIF | AVIF/JPEG |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    totals = {f: 0.0 for f in (JPEG.name, WEBP.name, AVIF.name)}
    for name in reversed(THUMBNAIL_NAMES):
        kb = {f: sum(m.kilobytes[f, name] for m in measured.values()) for f in totals}
        for f in totals:
            totals[f] += kb[f]
        lines.append(_bytes_row(name, kb))
    lines.append(_bytes_row("**all**", totals))
    lines += [
        "",
        "## Worker CPU per image against the bytes each browser gets",
        "",
        "Today: decode, resize, JPEG encodes and ThumbHash. Each choice adds its variant "
        "encodes. CPU ratio over the whole corpus (sums), with the worst single image; "
        "bytes are the corpus's three thumbnails as a browser naming AVIF (Chromium, "
        "Firefox, Safari 16.4+) and one naming only WebP get them (each size in the best "
        "format it has, else JPEG).",
        "",
        "| choice | CPU | worst image | AVIF browser KB | WebP-only browser KB |",
        "|---|---:|---:|---:|---:|",
    ]
    today_total = sum(m.today_ms for m in measured.values())
    jpeg_kb = sum(m.kilobytes[JPEG.name, n] for m in measured.values() for n in ALL_SIZES)
    lines.append(
        f"| today (JPEG only) | 1.00x ({today_total:.0f} ms) | 1.00x "
        f"| {jpeg_kb:.1f} | {jpeg_kb:.1f} |"
    )
    for choice in CHOICES:
        total = sum(m.today_ms + _variant_ms(m, choice) for m in measured.values())
        worst = max((m.today_ms + _variant_ms(m, choice)) / m.today_ms for m in measured.values())
        avif_kb = sum(_served(m, choice, (AVIF, WEBP)) for m in measured.values())
        webp_kb = sum(_served(m, choice, (WEBP,)) for m in measured.values())
        lines.append(
            f"| {choice.label()} | {total / today_total:.2f}x | {worst:.2f}x "
            f"| {avif_kb:.1f} ({1 - avif_kb / jpeg_kb:.0%} less) "
            f"| {webp_kb:.1f} ({1 - webp_kb / jpeg_kb:.0%} less) |"
        )
    lines += [
        "",
        "Per image (ms): today, then each variant's encode.",
        "",
        "| image | today | "
        + " | ".join(f"{f} {n}" for f in (WEBP.name, AVIF.name) for n in reversed(THUMBNAIL_NAMES))
        + " |",
        "|---|---:|" + "---:|" * 6,
    ]
    for image_name, m in measured.items():
        cells = [
            f"{m.encode_ms[f, n]:.1f}"
            for f in (WEBP.name, AVIF.name)
            for n in reversed(THUMBNAIL_NAMES)
        ]
        lines.append(f"| {image_name} | {m.today_ms:.1f} | " + " | ".join(cells) + " |")
    built = Choice(VARIANT_SIZES[AVIF.name], VARIANT_SIZES[WEBP.name])
    lines += ["", *_decision(measured, built, today_total, jpeg_kb), ""]
    return "\n".join(lines)


def _decision(
    measured: dict[str, Measured], built: Choice, today_total: float, jpeg_kb: float
) -> list[str]:
    """What the worker builds, and why, from this run's figures."""

    def cpu(choice: Choice) -> float:
        return sum(m.today_ms + _variant_ms(m, choice) for m in measured.values()) / today_total

    def saved(choice: Choice, named: tuple[ImageFormat, ...]) -> float:
        return 1 - sum(_served(m, choice, named) for m in measured.values()) / jpeg_kb

    avif_only = Choice(ALL_SIZES, frozenset())
    webp_only = Choice(frozenset(), ALL_SIZES)
    return [
        "## What the worker builds, and why",
        "",
        f"The worker builds: {built.label()} (src/sharer/thumbnail_variants.py), at "
        f"{cpu(built):.2f}x today's CPU per image over the corpus.",
        "",
        f"- Bytes (goal: AVIF 40 % and WebP 20 % less than the JPEG): AVIF at every size "
        f"{saved(avif_only, (AVIF,)):.0%} less, AVIF for the large size alone "
        f"{saved(Choice(frozenset({'large'}), frozenset()), (AVIF,)):.0%}; WebP at the "
        f"worker's effort {saved(webp_only, (WEBP,)):.0%} (a slower WebP method saves more "
        "for several times the encode time: the method table in thumbnailer.md).",
        f"- CPU (budget 1.5x): WebP alone {cpu(webp_only):.2f}x, AVIF at every size "
        f"{cpu(avif_only):.2f}x, both {cpu(Choice(ALL_SIZES, ALL_SIZES)):.2f}x (the table "
        "above has the others). The trade is CPU once per upload against bytes on every "
        "view.",
        "- Who gets what: every current browser names AVIF (Chromium, Firefox, Safari 16.4 "
        "and later); a WebP variant serves only browsers that name WebP but not AVIF. "
        "So WebP's CPU, and its three more stored objects (an S3 PUT each), buy a small "
        "saving for few viewers, while AVIF's buy about half the bytes for nearly all.",
        "- Built: AVIF at every size, no WebP (browsers without AVIF get the JPEG, as "
        "before). Naming WebP sizes in `VARIANT_SIZES` makes WebP too, everywhere at once "
        "(worker, media route, CloudFront Function, IAM).",
    ]


def _variant_ms(m: Measured, choice: Choice) -> float:
    return sum(m.encode_ms[WEBP.name, n] for n in choice.webp) + sum(
        m.encode_ms[AVIF.name, n] for n in choice.avif
    )


def _served(m: Measured, choice: Choice, named: tuple[ImageFormat, ...]) -> float:
    """KB of the three thumbnails as a browser naming ``named`` is served them."""
    made = {AVIF.name: choice.avif, WEBP.name: choice.webp}
    total = 0.0
    for name in ALL_SIZES:
        best = next((f.name for f in named if name in made[f.name]), JPEG.name)
        total += m.kilobytes[best, name]
    return total


def _sizes(sizes: frozenset[str]) -> str:
    if sizes == ALL_SIZES:
        return "all"
    named = [name for name in THUMBNAIL_NAMES if name in sizes]
    return "+".join(named) if named else "none"


def _bytes_row(name: str, kb: dict[str, float]) -> str:
    jpeg, webp, avif = kb[JPEG.name], kb[WEBP.name], kb[AVIF.name]
    return (
        f"| {name} | {jpeg:.1f} | {webp:.1f} | {webp / jpeg:.2f} ({1 - webp / jpeg:.0%} less) "
        f"| {avif:.1f} | {avif / jpeg:.2f} ({1 - avif / jpeg:.0%} less) |"
    )


def main() -> None:
    """Measure and write bench/results/variants.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--only", nargs="*", default=[], help="corpus file names")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    found = originals(args.only)
    targets = {JPEG.name: mean_score(found, JPEG, None)}
    print(f"JPEG mean SSIMULACRA2 {targets[JPEG.name]:.2f}", flush=True)
    qualities = {}
    for image_format in (WEBP, AVIF):
        qualities[image_format.name] = matching_quality(found, image_format, targets[JPEG.name])
        targets[image_format.name] = mean_score(found, image_format, qualities[image_format.name])
    per_size_scores = {}
    for image_format in (JPEG, WEBP, AVIF):
        for name in THUMBNAIL_NAMES:
            images = [i for o in found for n, i in o.thumbnails if n == name and scored(i)]
            if images:
                quality = qualities.get(image_format.name)
                per_size_scores[image_format.name, name] = statistics.fmean(
                    score(i, encode(i, image_format, quality)) for i in images
                )
    measured = {o.name: measure(o, qualities, args.runs) for o in found}
    text = report(found, targets, qualities, per_size_scores, measured, args.runs)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
