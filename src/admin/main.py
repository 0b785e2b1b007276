"""``sharer-admin``: the operator's commands, one module per command.

Each command module has ``add_parser(subparsers)``, which registers its subcommand with
``run(arguments) -> int`` as its handler; the settings come from the environment, as for
every other process (on AWS, run it on a server instance: docs/operations.md).
"""

import argparse
import sys

from admin import takedown


def main(argv: list[str] | None = None) -> None:
    """Entry point: parse the subcommand and exit with its status."""
    parser = argparse.ArgumentParser(prog="sharer-admin", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    takedown.add_parser(subparsers)
    arguments = parser.parse_args(argv)
    sys.exit(arguments.run(arguments))


if __name__ == "__main__":
    main()
