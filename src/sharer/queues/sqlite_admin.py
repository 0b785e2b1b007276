"""Operator commands for the SQLite queue: inspect its dead letters and redrive them.

    python -m sharer.queues.sqlite_admin counts
    python -m sharer.queues.sqlite_admin list
    python -m sharer.queues.sqlite_admin redrive --all | ID [ID ...]

The queue is found from the same settings as the server and worker (``SHARER_QUEUE_URL``,
else ``SHARER_DATA_DIR``), so run it with their environment. A redriven message is a fresh
message: it gets the full ``SHARER_MAX_RECEIVES`` deliveries again. On SQS use the AWS
console or CLI instead (docs/operations.md).
"""

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from sharer.backends import open_queue
from sharer.queues.sqlite import DeadLetter, SqliteQueue
from sharer.settings import CommonSettings, SettingsError


def describe(dead: DeadLetter) -> str:
    """One tab-separated line: id, when it was moved, receives, image id, reason."""
    moved = datetime.fromtimestamp(dead.moved_at, UTC).isoformat(timespec="seconds")
    return f"{dead.id}\t{moved}\t{dead.receive_count}\t{_image_id(dead.body)}\t{dead.reason}"


def _image_id(body: str) -> str:
    # Dead letters include messages we could not parse; show what can be read, never fail.
    try:
        doc = json.loads(body)
    except ValueError:
        return "-"
    image_id = doc.get("id") if isinstance(doc, dict) else None
    return image_id if isinstance(image_id, str) else "-"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sharer.queues.sqlite_admin",
        description="Inspect and redrive the SQLite queue's dead letters.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("counts", help="messages waiting, in flight and dead")
    commands.add_parser("list", help="every dead letter: id, moved at, receives, image, reason")
    redrive = commands.add_parser("redrive", help="put dead letters back on the queue")
    which = redrive.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every dead letter")
    which.add_argument("ids", nargs="*", type=int, default=[], help="dead letter ids")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 on success, 1 when the queue is not SQLite."""
    args = _parser().parse_args(argv)
    try:
        queue = open_queue(CommonSettings.from_env())
    except SettingsError as exc:
        print(f"bad setting: {exc}", file=sys.stderr)
        return 1
    if not isinstance(queue, SqliteQueue):
        print("SHARER_QUEUE_URL is not an SQLite queue; see docs/operations.md", file=sys.stderr)
        return 1
    if args.command == "counts":
        counts = queue.counts()
        print(f"visible {counts.visible}\tin_flight {counts.in_flight}\tdead {counts.dead}")
    elif args.command == "list":
        for dead in queue.dead_letters():
            print(describe(dead))
    else:
        moved = queue.redrive(None if args.all else args.ids)
        print(f"redrove {moved} message(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
