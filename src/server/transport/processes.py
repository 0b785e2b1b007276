"""``sharer-server``'s two processes: gunicorn behind nginx, started and stopped together.

This is the one way the server runs (``make run``, the tests' launcher, the AMI's
systemd unit, all through ``server.__main__``): it renders nginx's config from the
settings (``server.transport.nginx_config``), starts gunicorn
(``server.transport.gunicorn_app``) on a unix socket in ``SHARER_RUNTIME_DIR``,
and once gunicorn listens, nginx on ``SHARER_BIND``. Neither needs root (nginx runs
with its own prefix, on an unprivileged port). SIGTERM or SIGINT stops both gracefully:
nginx first (it finishes the requests it holds), then gunicorn. If either exits on its
own, the other is stopped and the command exits 1, for systemd to restart it.
"""

import ctypes
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO

from server.metrics_route import MULTIPROCESS_DIR_VARIABLE
from server.transport.nginx_config import CONNECTIONS_PER_NGINX_PROCESS, write_nginx_config
from server.transport.runtime_paths import RuntimePaths
from sharer.settings import ServerSettings

# Debian and Amazon Linux install nginx here, outside an ordinary user's PATH.
NGINX_SEARCH_PATH = "/usr/sbin:/sbin:/usr/local/sbin"
START_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.1
PR_SET_PDEATHSIG = 1  # linux/prctl.h
GUNICORN_COMMAND = (sys.executable, "-m", "server.transport.gunicorn_app")


class ServerStartError(RuntimeError):
    """nginx or gunicorn could not be started; the message says why."""


def find_nginx() -> str:
    """The nginx binary, on PATH or where the distributions put it."""
    search = os.environ.get("PATH", "") + os.pathsep + NGINX_SEARCH_PATH
    found = shutil.which("nginx", path=search)
    if found is None:
        raise ServerStartError(
            "nginx is not installed: `make run` installs it (apt-get install nginx), "
            "or install your distribution's nginx package"
        )
    return found


def _wait_for_socket(path: Path, gunicorn: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if gunicorn.poll() is not None:
            raise ServerStartError(f"gunicorn exited with {gunicorn.returncode} at start")
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(path))
                return
            except OSError:
                time.sleep(POLL_SECONDS)
    raise ServerStartError(f"gunicorn did not listen on {path} within {START_TIMEOUT_SECONDS}s")


def _stop(process: "subprocess.Popen[bytes]", sig: signal.Signals, timeout: float) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve(settings: ServerSettings, gunicorn_command: Sequence[str] = GUNICORN_COMMAND) -> int:
    """Run nginx in front of gunicorn until a signal or either one's exit; the exit code.

    ``gunicorn_command`` starts gunicorn on the runtime directory's socket: the service's
    app by default, another WSGI app under the same configuration for a benchmark.
    """
    paths = RuntimePaths(Path(settings.runtime_dir))
    paths.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    nginx_binary = find_nginx()
    config = write_nginx_config(settings, paths)
    paths.gunicorn_socket.unlink(missing_ok=True)  # left by a process that was killed
    # Counters start again with the server (as Prometheus expects of a restart); files
    # of processes from an earlier run would otherwise be added up forever.
    shutil.rmtree(paths.prometheus_dir, ignore_errors=True)
    paths.prometheus_dir.mkdir(mode=0o700)
    _raise_file_limit(settings.server_processes * CONNECTIONS_PER_NGINX_PROCESS + 256)

    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, on_signal)

    # A graceful stop waits for the requests in flight, which end by their deadline.
    grace = settings.request_timeout + 10.0
    # Each child in a process group of its own: a terminal's Ctrl-C reaches sharer-server
    # alone, which stops them in order (nginx first, gracefully).
    gunicorn = subprocess.Popen(
        list(gunicorn_command),
        env=os.environ | {MULTIPROCESS_DIR_VARIABLE: str(paths.prometheus_dir)},
        preexec_fn=_die_with_parent,
        process_group=0,
    )
    nginx: subprocess.Popen[bytes] | None = None
    try:
        _wait_for_socket(paths.gunicorn_socket, gunicorn)
        # nginx opens its access log by path (/dev/stderr), which a file that systemd
        # opened for us may refuse; a pipe of our own it can always reopen.
        nginx = subprocess.Popen(
            [nginx_binary, "-e", "stderr", "-p", str(paths.runtime_dir), "-c", str(config)],
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
            process_group=0,
        )
        relay = threading.Thread(target=_relay, args=(nginx.stderr,), daemon=True)
        relay.start()
        while not stopping and gunicorn.poll() is None and nginx.poll() is None:
            time.sleep(POLL_SECONDS)
    finally:
        # SIGQUIT asks for a quick stop (as gunicorn reads it); anything else, a graceful
        # one. The two signals mean the opposite to nginx.
        quick = signal.SIGQUIT in stopping
        if nginx is not None:
            _stop(nginx, signal.SIGTERM if quick else signal.SIGQUIT, grace)
        _stop(gunicorn, signal.SIGQUIT if quick else signal.SIGTERM, grace)
    return 0 if stopping else 1


def _die_with_parent() -> None:
    """In a child before exec: be sent SIGTERM if sharer-server dies (even SIGKILLed), so
    neither nginx nor gunicorn outlives it holding the port and the socket."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _relay(lines: IO[bytes] | None) -> None:
    """Copy nginx's log lines to our stderr until nginx closes its end."""
    if lines is None:
        return
    for line in lines:
        sys.stderr.buffer.write(line)
        sys.stderr.buffer.flush()


def _raise_file_limit(wanted: int) -> None:
    """Raise this process's (and its children's) open-file limit towards ``wanted``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
