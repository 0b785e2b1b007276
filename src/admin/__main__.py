"""``python -m admin``: the same as ``sharer-admin``."""

from admin.main import main

main()
