"""An audit hook for the processes of the hostile-input tests.

Python imports ``sitecustomize`` at start-up from the first directory on its path that
has one; the tests put this directory on ``PYTHONPATH`` of the server they audit and name
a log file in ``SHARER_AUDIT_LOG``. The hook (inherited by gunicorn's forked workers)
appends one JSON line per Pillow module loaded and per attempt to start a program, so a
test can prove that untrusted bytes never reached a plugin outside the allow-list, nor
Ghostscript, in the real server processes.
"""

import json
import os
import sys
from collections.abc import Sequence

_LOG = os.environ.get("SHARER_AUDIT_LOG")
_SPAWNS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"})


def _record(kind: str, what: str) -> None:
    assert _LOG is not None
    line = json.dumps({"pid": os.getpid(), "kind": kind, "what": what}) + "\n"
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one O_APPEND write: lines of processes never mix
    finally:
        os.close(fd)


def _hook(event: str, args: Sequence[object]) -> None:
    if event == "import" and str(args[0]).startswith("PIL."):
        _record("import", str(args[0]))
    elif event in _SPAWNS:
        _record("spawn", f"{event} {args[:2]!r}")


if _LOG:
    sys.addaudithook(_hook)
