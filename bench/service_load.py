"""Upload throughput: drive a server with wrk and read back what it measured.

wrk (C, epoll) is the load generator because on a 2-core machine the client shares the
CPU with the server it measures: wrk spends far less CPU per request than a Python
client would, and the CPU it did use is reported with each run (``client_cpu_s``, the
"wrk CPU %" column of bench/results/service.md) so the reader can check it stayed small.
"""

import json
import resource
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "service_upload.lua"
# wrk's own bound on one request, so a stalled server cannot hold a run past its time.
REQUEST_TIMEOUT_S = 10


@dataclass(frozen=True)
class LoadResult:
    """One wrk run: answers per second, their latency, and what went wrong."""

    connections: int
    requests: int
    seconds: float
    statuses: dict[str, int]
    # wrk's socket errors by kind (connect, read, write, timeout).
    socket_errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    client_cpu_s: float

    @property
    def per_second(self) -> float:
        """Answers per second over the run."""
        return self.requests / self.seconds


def multipart_body(
    data: bytes, *, field: str = "image", filename: str = "photo.jpg"
) -> tuple[bytes, str]:
    """A multipart/form-data body with one file part, as ``curl -F`` sends it.

    Returns the body and its Content-Type header value.
    """
    boundary = f"----bench{secrets.token_hex(12)}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def wrk_path() -> str:
    """The wrk executable; raise with the install hint when it is missing."""
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (make bench does it)")
    return found


def run_wrk(
    url: str,
    body_file: Path,
    content_type: str,
    *,
    connections: int,
    seconds: float,
    max_requests: int,
) -> LoadResult:
    """POST ``body_file`` to ``url`` on ``connections`` keep-alive connections.

    Bounded twice: wrk stops after ``seconds``, or once ``max_requests`` were answered.
    """
    threads = min(connections, 2)
    command = [
        wrk_path(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={REQUEST_TIMEOUT_S}s",
        f"--script={SCRIPT}",
        url,
        "--",
        str(body_file),
        content_type,
        str(max(1, max_requests // threads)),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in finished.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"wrk printed no result:\n{finished.stdout}\n{finished.stderr}")
    doc = json.loads(lines[-1].removeprefix("RESULT "))
    latency = doc["latency_us"]
    return LoadResult(
        connections=connections,
        requests=doc["requests"],
        seconds=doc["duration_us"] / 1e6,
        statuses=doc["statuses"],
        socket_errors={kind: count for kind, count in doc["errors"].items() if count},
        p50_ms=latency["p50"] / 1000,
        p99_ms=latency["p99"] / 1000,
        client_cpu_s=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    )
