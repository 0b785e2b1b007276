"""Run every benchmark (``make bench``): the thumbnailer's, its variants' (bytes,
SSIMULACRA2, CPU), animated thumbnails', inspection's, ThumbHash's, the service's, the
whole job against thumbor (which installs thumbor in a venv of its own on first use), and
the AWS round trips behind a latency proxy.

Each runs in its own process with its default settings and writes its own table under
bench/results/; a failure of one does not stop the other, but makes this script exit 1.

    .venv/bin/python bench/run_all.py
"""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BENCHMARKS = (
    "thumbnailer.py",
    "animations.py",
    "variants.py",
    "inspection.py",
    "thumbhash.py",
    "service.py",
    "thumbor_job.py",
    "aws_round_trips.py",
)


def main() -> None:
    """Run each benchmark; exit 1 naming those that failed."""
    failed = []
    for script in BENCHMARKS:
        print(f"== bench/{script}", flush=True)
        if subprocess.run([sys.executable, str(BENCH / script)], check=False).returncode:
            failed.append(script)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
