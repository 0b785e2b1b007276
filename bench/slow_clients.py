"""Issue 15's attack, measured: N connections trickling their headers (or a declared 1 MB
body) at one byte a second, reconnecting the moment they are cut, against the server as
``make run`` starts it (2 processes of 4 threads, a 30 s request deadline); meanwhile an
ordinary client uploads a small JPEG and GETs /healthz every 2 s, each on a new
connection with a 10 s timeout. The attackers come from 127.0.0.2 (one attacking host),
the client from 127.0.0.1.

    .venv/bin/python bench/slow_clients.py --label after --output bench/results/slow_clients.md

Not part of ``make bench`` (minutes of deliberately idle waiting); run it on a checkout
to compare (``PYTHONPATH=<checkout>/src`` runs another checkout's server).
"""

import argparse
import tempfile
from pathlib import Path

from support.attackers import BODY, HEADERS, Swarm, probe_meanwhile
from support.services import Service, local_env

SECONDS = 40.0
SCENARIOS = ((HEADERS, 8), (BODY, 8), (HEADERS, 16), (BODY, 16))


def measure(kind: str, count: int) -> tuple[str, str, str]:
    """One scenario on a fresh server: what the uploads and the health checks saw."""
    with tempfile.TemporaryDirectory() as workdir:
        service = Service(local_env(Path(workdir)), Path(workdir))
        with service.running():
            swarm = Swarm(service.port, {kind: count}, sources=("127.0.0.2",))
            with swarm.attacking(SECONDS + 5):
                uploads, health = probe_meanwhile(service.base_url, SECONDS)
            longest = max([*swarm.held, *swarm.uncut], default=0.0)
            still_open = len(swarm.uncut)
            held = f"{swarm.cuts} cut, {still_open} open at the end; longest held {longest:.0f} s"
    return uploads.summary(202), health.summary(200), held


def main() -> None:
    """Run every scenario and write (or print) a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", required=True, help="what was measured (before, after)")
    parser.add_argument("--output", type=Path, help="append the table to this file")
    args = parser.parse_args()
    lines = [
        f"\n### {args.label}\n",
        "| attackers | uploads (202 expected) | GET /healthz | attacker connections |",
        "|---|---|---|---|",
    ]
    for kind, count in SCENARIOS:
        uploads, health, held = measure(kind, count)
        lines.append(f"| {count} trickling {kind} | {uploads} | {health} | {held} |")
        print(lines[-1], flush=True)
    if args.output:
        with args.output.open("a") as out:
            out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
