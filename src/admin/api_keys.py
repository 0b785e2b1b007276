"""``sharer-admin keys``: create, list and revoke API keys (``sharer.api_keys``).

``create`` prints the key once, on stdout alone (so a script can capture it); only its
SHA-256 is stored. A revoked key is refused by every server from its next upload.
"""

import argparse
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sharer.api_keys import (
    NAME_PATTERN,
    ApiKey,
    ApiKeyError,
    ApiKeyStoreUnavailable,
    created_key,
)
from sharer.backends import open_api_keys
from sharer.settings import CommonSettings
from sharer.sqlite_store import SqliteStoreUnavailable

# A key's quotas unless the operator gives others: well above one person's use.
DEFAULT_UPLOADS_PER_MINUTE = 60
DEFAULT_BYTES_PER_DAY = 1024**3
NAME = re.compile(NAME_PATTERN)
NAME_HELP = "letters, digits, '.', '_' or '-', at most 64; shown in the access log"


def add_commands(groups: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``keys create|list|revoke`` to ``sharer-admin``."""
    keys = groups.add_parser("keys", help="API keys: create, list, revoke")
    commands = keys.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key and print it, once")
    create.add_argument("--name", required=True, type=_name, help=NAME_HELP)
    create.add_argument(
        "--uploads-per-minute",
        type=_positive,
        default=DEFAULT_UPLOADS_PER_MINUTE,
        help=f"the key's upload quota per minute (default {DEFAULT_UPLOADS_PER_MINUTE})",
    )
    create.add_argument(
        "--bytes-per-day",
        type=_positive,
        default=DEFAULT_BYTES_PER_DAY,
        help=f"the key's quota of uploaded bytes per UTC day (default {DEFAULT_BYTES_PER_DAY})",
    )
    create.set_defaults(run=_create)
    listing = commands.add_parser("list", help="every key: name, quotas, created, revoked")
    listing.set_defaults(run=_list)
    revoke = commands.add_parser("revoke", help="refuse a key from now on, on every server")
    revoke.add_argument("name", type=_name)
    revoke.set_defaults(run=_revoke)


def _create(settings: CommonSettings, arguments: argparse.Namespace) -> int:
    return _guarded(
        lambda: print(
            created_key(
                open_api_keys(settings),
                arguments.name,
                uploads_per_minute=arguments.uploads_per_minute,
                bytes_per_day=arguments.bytes_per_day,
            )
        )
    )


def _list(settings: CommonSettings, _arguments: argparse.Namespace) -> int:
    def show() -> None:
        print("name\tuploads_per_minute\tbytes_per_day\tcreated\trevoked")
        for record in open_api_keys(settings).list():
            print(_line(record))

    return _guarded(show)


def _revoke(settings: CommonSettings, arguments: argparse.Namespace) -> int:
    return _guarded(
        lambda: print(_line(open_api_keys(settings).revoke(arguments.name, time.time())))
    )


def _guarded(command: Callable[[], None]) -> int:
    """Run ``command``; 1 with a message on stderr if the key or the store says no."""
    try:
        command()
    except ApiKeyError as exc:
        print(f"sharer-admin: {exc}", file=sys.stderr)
        return 1
    except (ApiKeyStoreUnavailable, SqliteStoreUnavailable) as exc:
        print(f"sharer-admin: the key store is unavailable: {exc}", file=sys.stderr)
        return 1
    return 0


def _line(record: ApiKey) -> str:
    revoked = "-" if record.revoked_at is None else _when(record.revoked_at)
    return (
        f"{record.name}\t{record.uploads_per_minute}\t{record.bytes_per_day}\t"
        f"{_when(record.created_at)}\t{revoked}"
    )


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _name(raw: str) -> str:
    if not NAME.fullmatch(raw):
        raise argparse.ArgumentTypeError(f"{raw!r}: {NAME_HELP}")
    return raw


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{raw!r}: must be a positive integer")
    return value
