"""thumbor, the on-the-fly thumbnail server people run instead, in a venv of its own.

``ensure_thumbor`` installs it (pinned) into ``bench/.thumbor-venv`` (gitignored) the first
time, so ``make bench`` needs nothing but PyPI; our own venv is never touched (thumbor
pins its own Pillow). ``running_thumbor`` starts it on loopback with file storage, no
result storage (every thumbnail is made on request, as a cache miss would be) and
uploads allowed, as ``--processes`` forked servers in a process group of their own.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.services import START_TIMEOUT, free_port, wait_until_listening

VENV = Path(__file__).resolve().parent / ".thumbor-venv"
THUMBOR_REQUIREMENT = "thumbor==7.8.0"
STOP_TIMEOUT_S = 15.0

_CONFIG = """
UPLOAD_ENABLED = True
UPLOAD_PUT_ALLOWED = False
UPLOAD_DELETE_ALLOWED = False
UPLOAD_MAX_SIZE = 1048576
STORAGE = 'thumbor.storages.file_storage'
UPLOAD_PHOTO_STORAGE = 'thumbor.storages.file_storage'
FILE_STORAGE_ROOT_PATH = {root!r}
RESULT_STORAGE = None
ALLOW_UNSAFE_URL = True
QUALITY = 85
# Ours shows images upright by their EXIF orientation; thumbor does only when told.
RESPECT_ORIENTATION = True
"""


@dataclass(frozen=True)
class RunningThumbor:
    """Where thumbor listens and the pid of its master process."""

    url: str
    pid: int


def ensure_thumbor() -> Path:
    """The thumbor executable, installed into its own venv on first use."""
    executable = VENV / "bin" / "thumbor"
    if not executable.exists():
        print(f"installing {THUMBOR_REQUIREMENT} into {VENV}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, THUMBOR_REQUIREMENT], check=True)
    return executable


def thumbor_version() -> str:
    """thumbor's and its Pillow's versions, as installed in its venv."""
    script = "import thumbor, PIL; print(thumbor.__version__, PIL.__version__)"
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", script], check=True, capture_output=True, text=True
    )
    thumbor, pillow = out.stdout.split()
    return f"thumbor {thumbor} (Pillow {pillow})"


@contextmanager
def running_thumbor(workdir: Path, *, processes: int) -> Iterator[RunningThumbor]:
    """thumbor with ``processes`` servers on loopback, storing under ``workdir``."""
    executable = ensure_thumbor()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "thumbor.conf"
    config.write_text(_CONFIG.format(root=str(workdir / "storage")))
    port = free_port()
    log = (workdir / "thumbor.log").open("ab")
    command = [executable, "-i", "127.0.0.1", "-p", str(port), "-c", config]
    process = subprocess.Popen(
        [*map(str, command), "--processes", str(processes), "-l", "error"],
        stdout=log,
        stderr=log,
        # Its forked servers share this group, so one signal stops them all.
        start_new_session=True,
    )
    try:
        wait_until_listening(port, process, START_TIMEOUT)
        yield RunningThumbor(f"http://127.0.0.1:{port}", process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
