"""The processes the service benchmark measures, started on loopback and always stopped.

- the service: gunicorn (``python -m server``) and one worker (``python -m worker``) on
  the embedded backends, configured by ``tests/support/services.local_env``;
- the bare WSGI server (``bench/bare_wsgi.py``) and the durable floor
  (``bench/durable_floor.py``) behind the same nginx and gunicorn configuration.

The worker can be started at a lower CPU priority (``nice``): on this 2-core machine it
otherwise takes CPU from the server whose upload rate is being measured, which it would
not do in production, where workers run on their own instances.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sharer.backends import open_storage
from sharer.settings import CommonSettings
from sharer.storage.local import LocalStorage
from support.memory import descendants
from support.services import (
    START_TIMEOUT,
    Service,
    free_port,
    local_env,
    stop_processes,
    wait_until_listening,
)

BARE_WSGI = Path(__file__).resolve().parent / "bare_wsgi.py"
DURABLE_FLOOR = Path(__file__).resolve().parent / "durable_floor.py"
LOG_TAIL_LINES = 15
# The worker's priority while the server's upload rate is measured (see the docstring).
QUIET_WORKER_NICE = 19
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class BareServer:
    """A running bare WSGI server: where it listens, where it stores, its master pid."""

    url: str
    bodies: Path
    pid: int

    def clear(self) -> None:
        """Remove the bodies stored so far (a run stores hundreds of megabytes)."""
        for path in self.bodies.iterdir():
            path.unlink()


def service_env(workdir: Path) -> dict[str, str]:
    """The end-to-end tests' embedded backends under ``workdir``, with the product's
    default worker thread count (the tests pin theirs)."""
    env = local_env(workdir)
    del env["SHARER_WORKER_THREADS"]
    return env


@contextmanager
def running_service(workdir: Path, *, worker_nice: int, workers: int = 1) -> Iterator[Service]:
    """The server and ``workers`` workers (at ``worker_nice``) on fresh data in ``workdir``."""
    workdir.mkdir(parents=True)
    try:
        service = Service(service_env(workdir), workdir, worker_nice=worker_nice)
        with service.running(workers=workers):
            yield service
    except BaseException:
        _print_logs(workdir)
        raise
    finally:
        shutil.rmtree(workdir)


@contextmanager
def running_bare(workdir: Path) -> Iterator[BareServer]:
    """The bare WSGI server with the service's gunicorn settings, storing under ``workdir``."""
    bodies = workdir / "bodies"
    with _running_script(BARE_WSGI, workdir, {"BARE_WSGI_DIR": str(bodies)}) as (url, pid):
        yield BareServer(url, bodies, pid)


@contextmanager
def running_floor(workdir: Path) -> Iterator[tuple[str, int]]:
    """The durable floor (URL, master pid) on the service's backends under ``workdir``."""
    with _running_script(DURABLE_FLOOR, workdir, {}) as running:
        yield running


@contextmanager
def _running_script(
    script: Path, workdir: Path, extra_env: dict[str, str]
) -> Iterator[tuple[str, int]]:
    workdir.mkdir(parents=True)
    port = free_port()
    env = os.environ | service_env(workdir) | {"SHARER_BIND": f"127.0.0.1:{port}"} | extra_env
    log = (workdir / f"{script.stem}.log").open("ab")
    process = subprocess.Popen([sys.executable, str(script)], env=env, stdout=log, stderr=log)
    try:
        wait_until_listening(port, process, START_TIMEOUT)
        yield f"http://127.0.0.1:{port}/", process.pid
    except BaseException:
        _print_logs(workdir)
        raise
    finally:
        stop_processes([process])
        shutil.rmtree(workdir)


def storage_root(service: Service) -> Path:
    """The directory where the service's local storage keeps objects, as its settings say."""
    storage = open_storage(CommonSettings.from_env(service.env))
    if not isinstance(storage, LocalStorage):
        raise RuntimeError("the benchmark runs on the embedded backends only")
    return storage.root


def server_pid(service: Service) -> int:
    """The pid of the service's sharer-server (nginx and gunicorn are its descendants)."""
    if service.server is None:
        raise RuntimeError("the server is not running")
    return service.server.pid


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` and all its descendants still alive."""
    total = 0.0
    for process in [pid, *descendants(pid)]:
        try:
            stat = Path(f"/proc/{process}/stat").read_text()
        except FileNotFoundError:
            continue  # exited between listing and reading
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return total


def _print_logs(workdir: Path) -> None:
    for log in sorted(workdir.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        print(f"--- last lines of {log.name}", *lines, sep="\n", file=sys.stderr)
