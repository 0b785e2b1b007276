"""Issue 25's phone-photo flood, measured: 60 uploads at once of a 12 MP HEIC with
full-resolution chroma (the costliest proof) from one client, under the per-client
bound, against the server as ``make run`` starts it (2 processes of 4 threads, no worker
on the machine). Meanwhile another client alternates ``GET /healthz`` and a small JPEG
upload, each on a new connection, until every flood upload is answered; the same probes
are timed on the idle server first. ``--retries N`` sends each refused upload again after
its ``Retry-After``, as the CLI does (4 times by default).

    .venv/bin/python bench/proof_flood.py --label after --output bench/results/proof_flood.md

Not part of ``make bench`` (it takes the machine's cores); run it on a checkout to
compare (``PYTHONPATH=<checkout>/src`` runs another checkout's server).
"""

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from support.images import jpeg
from support.proof_flood import (
    REQUEST_TIMEOUT,
    Answer,
    flood,
    health,
    image_upload,
    latency_summary,
    phone_heic,
)
from support.services import Service, local_env

FLOOD_UPLOADS = 60
IDLE_PROBES = 10


def main() -> None:
    """Measure once and write (or print) a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", required=True, help="what was measured (before, after)")
    parser.add_argument("--output", type=Path, help="append the table to this file")
    parser.add_argument(
        "--retries",
        type=int,
        default=0,
        help="times each flood upload is sent again after a 503 (the CLI: 4)",
    )
    args = parser.parse_args()
    heic, small = phone_heic(), jpeg((64, 48))
    with tempfile.TemporaryDirectory() as workdir:
        service = Service(local_env(Path(workdir)), Path(workdir))
        with service.running():
            base = service.base_url
            idle_health = [health(base) for _ in range(IDLE_PROBES)]
            idle_uploads = [image_upload(base, small) for _ in range(IDLE_PROBES)]
            started = time.perf_counter()
            result = flood(base, heic, small, uploads=FLOOD_UPLOADS, retries=args.retries)
            seconds = time.perf_counter() - started
    statuses = Counter(answer.status for answer in result.uploads)
    tally = ", ".join(
        f"{count} {'unanswered' if status == 0 else f'got {status}'}"
        for status, count in sorted(statuses.items())
    )
    lines = [
        f"\n### {args.label}\n",
        f"{FLOOD_UPLOADS} HEIC uploads of {len(heic):,} bytes, each sent again up to "
        f"{args.retries} times after a 503 ({result.retried} resends): finally {tally} "
        f"(unanswered: no answer in {REQUEST_TIMEOUT:g} s); the slowest final 503 took "
        f"{_worst_503(result.uploads)}; the flood lasted {seconds:.1f} s.\n",
        "| probe | idle | during the flood |",
        "|---|---|---|",
        f"| GET /healthz | {latency_summary(idle_health)} | "
        f"{latency_summary([p.answer for p in result.health])} |",
        f"| small JPEG upload | {latency_summary(idle_uploads)} | "
        f"{latency_summary([p.answer for p in result.small_uploads])} |",
    ]
    print("\n".join(lines), flush=True)
    if args.output:
        with args.output.open("a") as out:
            out.write("\n".join(lines) + "\n")


def _worst_503(answers: list[Answer]) -> str:
    refused = [answer.seconds for answer in answers if answer.status == 503]
    return f"{max(refused):.2f} s" if refused else "none"


if __name__ == "__main__":
    main()
