"""``sharer``: the command-line client. It speaks only HTTP to a server, so it shares no
code with the server or the worker."""
