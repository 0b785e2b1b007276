"""``python -m cli``: the same as the ``sharer`` command."""

from cli.main import main

raise SystemExit(main())
