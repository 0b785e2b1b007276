"""``sharer-server`` (and ``python -m server``): validate settings, then run gunicorn behind
nginx, as one command (``server.transport.processes``)."""

import sys

from server.transport.processes import ServerStartError, serve
from sharer.settings import ServerSettings, settings_or_exit


def main() -> None:
    """Entry point: exit 1 with a message naming the bad variable on a settings error,
    or saying what is missing when nginx or gunicorn cannot start."""
    settings = settings_or_exit("sharer-server", ServerSettings)
    try:
        sys.exit(serve(settings))
    except ServerStartError as exc:
        sys.exit(f"sharer-server: {exc}")


if __name__ == "__main__":
    main()
