"""Where the time goes: py-spy samples of the server and the worker while they are loaded.

``profile_phase`` runs the service under load twice, with py-spy on the server and then
on the worker. ``Profiler`` records every thread of a process tree (``py-spy record
--subprocesses``, non-idle samples only, so a thread blocked in ``recv`` or on a lock
does not count, while one waiting in ``fsync`` does) for a fixed time. ``breakdown``
then tells, of the samples inside one entry point (the upload view, the job handler),
what share each function of interest holds, its callees included.
"""

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from service_latency import Probe, measure_latency
from service_load import run_wrk
from service_processes import QUIET_WORKER_NICE, running_service, server_pid, storage_root
from service_report import Profile

SAMPLE_RATE = 250
PROFILE_SECONDS = 8.0
PROFILE_MAX_REQUESTS = 20_000
# What the profile tables break the upload request and the thumbnail job into.
UPLOAD_ENTRY = "upload (server/upload_route.py)"
UPLOAD_PARTS = (
    "_form_parts (",
    "inspect_upload (",
    "WalkedJpeg.prove_decodes (",
    "strip_walked (",
    "LocalStorage.put_all (",
    "SqliteQueue.send (",
)
JOB_ENTRY = "JobProcessor.handle ("
JOB_PARTS = (
    "LocalStorage.get (",
    "render_thumbnails (",
    "LocalStorage.put_all_regenerable (",
    "JobProcessor._record (",
    "SqliteQueue.delete (",
)


# "name (path/file.py:123)" -> "name (path/file.py)": lines of one function merge.
_LINE = re.compile(r":\d+\)$")


class Profiler:
    """A py-spy recording of ``pid`` and its children, to ``raw`` in collapsed-stack form."""

    def __init__(self, pid: int, raw: Path, seconds: float) -> None:
        # The venv's own bin first: py-spy comes with the bench extra, and the venv is
        # seldom on PATH.
        spy = shutil.which(
            "py-spy",
            path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        )
        if spy is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy; make bench does)")
        self.raw = raw
        self._process = subprocess.Popen(
            [
                spy,
                "record",
                "--subprocesses",
                "--nonblocking",
                "--format",
                "raw",
                "--rate",
                str(SAMPLE_RATE),
                "--duration",
                str(max(1, round(seconds))),
                "--output",
                str(raw),
                "--pid",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait(self, timeout: float) -> Path:
        """Wait for the recording to end; return the file it wrote."""
        _, errors = self._process.communicate(timeout=timeout)
        if self._process.returncode != 0 or not self.raw.exists():
            raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')[-500:]}")
        return self.raw


def breakdown(raw: Path, entry: str, parts: Sequence[str]) -> tuple[int, dict[str, float]]:
    """Samples inside ``entry`` and the percentage of them in each of ``parts``.

    ``entry`` and ``parts`` are substrings of frames such as ``"inspect_upload ("``.
    """
    inside = 0
    hits: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        if not any(entry in frame for frame in frames):
            continue
        inside += int(count)
        for part in parts:
            if any(part in frame for frame in frames):
                hits[part] += int(count)
    return inside, {part: 100 * hits[part] / inside if inside else 0.0 for part in parts}


def profile_phase(
    run_dir: Path,
    body_file: Path,
    content_type: str,
    data: bytes,
    *,
    connections: int,
    in_flight: int,
    probe: Probe,
) -> list[Profile]:
    """py-spy on the server during uploads at the highest concurrency, and on the worker
    with uploads in flight (as in the latency measurement)."""
    with running_service(run_dir / "server", worker_nice=QUIET_WORKER_NICE) as running:
        url = f"{running.base_url}/"
        run_wrk(
            url,
            body_file,
            content_type,
            connections=connections,
            seconds=1,
            max_requests=PROFILE_MAX_REQUESTS,
        )
        profiler = Profiler(server_pid(running), run_dir / "server.txt", PROFILE_SECONDS)
        run_wrk(
            url,
            body_file,
            content_type,
            connections=connections,
            seconds=PROFILE_SECONDS,
            max_requests=PROFILE_MAX_REQUESTS,
        )
        server = profiler.wait(timeout=PROFILE_SECONDS + 30)
        upload = Profile(
            f"server, one upload request (concurrency {connections})",
            *breakdown(server, UPLOAD_ENTRY, UPLOAD_PARTS),
        )
    with running_service(run_dir / "worker", worker_nice=0) as running:
        profiler = Profiler(running.workers[0].pid, run_dir / "worker.txt", PROFILE_SECONDS)
        measure_latency(
            running.base_url,
            storage_root(running),
            data,
            in_flight=in_flight,
            uploads=PROFILE_MAX_REQUESTS,
            warmup=0,
            seconds=PROFILE_SECONDS,
            probe=probe,
        )
        worker = profiler.wait(timeout=PROFILE_SECONDS + 30)
        job = Profile(
            f"worker, one thumbnail job ({in_flight} uploads in flight)",
            *breakdown(worker, JOB_ENTRY, JOB_PARTS),
        )
    return [upload, job]
