"""``sharer-admin``: the operator's commands, one module per command group.

    sharer-admin keys create --name NAME [--uploads-per-minute N] [--bytes-per-day N]
    sharer-admin keys list
    sharer-admin keys revoke NAME
    sharer-admin takedown ID --reason TEXT

Each module's ``add_commands(groups)`` registers its subcommands, each with
``run(settings, arguments) -> int`` as its handler. It reads the same settings as the
server, so run it with their environment (on AWS, on a server instance through SSM
Session Manager: docs/operations.md).
"""

import argparse
import sys
from collections.abc import Sequence

from admin import api_keys, takedown
from sharer.settings import CommonSettings, settings_or_exit


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per command group."""
    top = argparse.ArgumentParser(prog="sharer-admin", description="Operate the image sharer.")
    groups = top.add_subparsers(dest="group", required=True)
    api_keys.add_commands(groups)
    takedown.add_commands(groups)
    return top


def main(argv: Sequence[str] | None = None) -> None:
    """Run one command; exit 0, or 1 with a message on stderr."""
    arguments = parser().parse_args(argv)
    settings = settings_or_exit("sharer-admin", CommonSettings)
    sys.exit(arguments.run(settings, arguments))


if __name__ == "__main__":
    main()
