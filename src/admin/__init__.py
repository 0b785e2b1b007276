"""``sharer-admin``: the operator's commands, run on a server instance or locally."""
