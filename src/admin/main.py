"""``sharer-admin``: the operator's commands, one module per command group.

    sharer-admin keys create --name NAME [--uploads-per-minute N] [--bytes-per-day N]
    sharer-admin keys list
    sharer-admin keys revoke NAME

It reads the same settings as the server (``SHARER_QUOTA_STORE_URL``, else
``SHARER_DATA_DIR``; on AWS the table and region), so run it with their environment.
"""

import argparse
import sys
from collections.abc import Sequence

from admin import api_keys
from sharer.settings import settings_or_exit


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per command group."""
    top = argparse.ArgumentParser(prog="sharer-admin", description="Operate the image sharer.")
    groups = top.add_subparsers(dest="group", required=True)
    api_keys.add_commands(groups)
    return top


def main(argv: Sequence[str] | None = None) -> None:
    """Run one command; exit 0, or 1 with a message on stderr."""
    arguments = parser().parse_args(argv)
    settings = settings_or_exit("sharer-admin")
    sys.exit(arguments.run(settings, arguments))


if __name__ == "__main__":
    main()
