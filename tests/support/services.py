"""Real processes on loopback for end-to-end tests and benchmarks: the server (nginx in
front of gunicorn, started by ``python -m server`` as ``make run`` and the AMI start it),
workers, and moto's server standing in for S3 and SQS. Every wait is bounded."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import boto3
import requests

from sharer.backends import open_storage
from sharer.settings import CommonSettings
from sharer.storage import Storage
from support.sqs import create_work_queues

START_TIMEOUT = 30.0
STOP_TIMEOUT = 40.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Block until ``port`` accepts connections; fail fast if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout}s")


def stop_processes(processes: "Sequence[subprocess.Popen[bytes]]") -> None:
    """SIGTERM every process still running, wait (bounded), then SIGKILL what is left."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Service:
    """One running instance of the service: its environment, server and workers."""

    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    # ``nice -n`` for the workers: a benchmark keeps them off the server's CPU with it.
    worker_nice: int = 0
    server: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Other processes of the service (the reconciler, webhook delivery), by name.
    others: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """Where the server listens."""
        return f"http://127.0.0.1:{self.port}"

    def _spawn(
        self,
        module: str,
        name: str,
        extra_env: dict[str, str],
        *,
        nice: int = 0,
        arguments: Sequence[str] = (),
    ) -> "subprocess.Popen[bytes]":
        env = os.environ | self.env | {"SHARER_BIND": f"127.0.0.1:{self.port}"} | extra_env
        command = [sys.executable, "-m", module, *arguments]
        if nice:
            command = ["nice", "-n", str(nice), *command]
        log = (self.log_dir / f"{name}.log").open("ab")
        return subprocess.Popen(command, env=env, stdout=log, stderr=log)

    def start_server(self, **extra_env: str) -> None:
        """Start the server (``python -m server``: nginx and gunicorn) and wait until
        /healthz answers 200."""
        self.server = self._spawn("server", "server", extra_env)
        wait_until_listening(self.port, self.server, START_TIMEOUT)
        deadline = time.monotonic() + START_TIMEOUT
        # The first answer can take seconds (imports, clients, coverage's tracer on a busy
        # machine), so each try may wait for whatever is left of the deadline.
        while (remaining := deadline - time.monotonic()) > 0:
            if requests.get(f"{self.base_url}/healthz", timeout=remaining).status_code == 200:
                return
            time.sleep(0.1)
        raise TimeoutError("server never became healthy")

    def start_worker(self, **extra_env: str) -> "subprocess.Popen[bytes]":
        """Start one more worker process (at CPU priority ``worker_nice``)."""
        worker = self._spawn(
            "worker", f"worker-{len(self.workers)}", extra_env, nice=self.worker_nice
        )
        self.workers.append(worker)
        return worker

    def start_process(self, module: str, name: str, *arguments: str) -> None:
        """Start ``python -m module arguments`` with the service's settings, logging to
        ``name``.log (``sharer-webhooks``, ``sharer-reconcile --every``)."""
        self.others[name] = self._spawn(module, name, {}, arguments=arguments)

    def stop(self) -> None:
        """SIGTERM everything, wait (bounded), then SIGKILL what is left."""
        running = [self.server, *self.workers, *self.others.values()]
        stop_processes([p for p in running if p is not None])

    @contextmanager
    def running(self, *, workers: int = 0) -> Iterator["Service"]:
        """Start the server and ``workers`` workers; stop them all on the way out."""
        try:
            self.start_server()
            for _ in range(workers):
                self.start_worker()
            yield self
        finally:
            self.stop()

    def logs(self, process: str = "*") -> list[dict[str, object]]:
        """Every JSON log line the processes (or one: ``server``, ``worker-0``...) wrote."""
        return [
            record
            for path in sorted(self.log_dir.glob(f"{process}.log"))
            for record in json_lines(path)
        ]


def json_lines(path: Path) -> list[dict[str, object]]:
    """The JSON records of a log file, skipping other output and a line still being written."""
    whole_lines = path.read_text(errors="replace").split("\n")[:-1]
    return [json.loads(line) for line in whole_lines if line.startswith("{")]


def local_env(data_dir: Path) -> dict[str, str]:
    """CommonSettings for the embedded backends (local files, SQLite) under ``data_dir``."""
    return {
        "SHARER_DATA_DIR": str(data_dir),
        "SHARER_SERVER_PROCESSES": "2",
        "SHARER_WORKER_THREADS": "2",
    }


@contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    """moto's server as a separate process on loopback; yields its endpoint URL."""
    port = free_port()
    log = (log_dir / "moto.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=log,
    )
    try:
        wait_until_listening(port, process, START_TIMEOUT)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_processes([process])


FAKE_AWS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def aws_env(endpoint: str, *, bucket: str, max_receives: int = 5) -> dict[str, str]:
    """Create a bucket, a work queue and its dead-letter queue on moto; return settings."""
    session = boto3.Session(
        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=FAKE_AWS_CREDENTIALS["AWS_REGION"],
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)
    # Anonymous reads of images/*, as CloudFront's origin access gets on AWS.
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/images/*",
                    }
                ],
            }
        ),
    )
    sqs = session.client("sqs", endpoint_url=endpoint)
    queue_url, dlq_url = create_work_queues(sqs, f"{bucket}-work", max_receives=max_receives)
    return FAKE_AWS_CREDENTIALS | {
        "SHARER_STORAGE_URL": f"s3://{bucket}",
        "SHARER_QUEUE_URL": queue_url,
        "SHARER_DEAD_LETTER_QUEUE_URL": dlq_url,
        "SHARER_AWS_ENDPOINT_URL": endpoint,
        # moto serves the bucket path-style without auth: our stand-in for CloudFront.
        "SHARER_PUBLIC_BASE_URL": f"{endpoint}/{bucket}",
        "SHARER_MAX_RECEIVES": str(max_receives),
        "SHARER_SERVER_PROCESSES": "2",
        "SHARER_WORKER_THREADS": "2",
    }


def service_storage(service: Service) -> Storage:
    """The store ``service`` writes to, opened from the service's own settings (on moto,
    with moto's fake credentials, which the client reads once, when it is made)."""
    with mock.patch.dict(os.environ, FAKE_AWS_CREDENTIALS):
        return open_storage(CommonSettings.from_env(service.env))


def local_service(
    workdir: Path, *, workers: int = 1, env: Mapping[str, str] | None = None
) -> Iterator[Service]:
    """A running server and ``workers`` workers on files and SQLite under ``workdir``,
    with ``env`` over ``local_env``'s variables, for a fixture to ``yield from``; stopped
    when the fixture is torn down."""
    with Service(local_env(workdir) | dict(env or {}), workdir).running(workers=workers) as running:
        yield running


def aws_service(
    workdir: Path,
    *,
    bucket: str,
    workers: int = 1,
    extra_env: Callable[[str], dict[str, str]] = lambda endpoint: {},
) -> Iterator[Service]:
    """A running server and ``workers`` workers on S3 and SQS of a moto server of their
    own (``bucket`` and its queues; ``extra_env(endpoint)`` adds settings), for a fixture
    to ``yield from``; all stopped when the fixture is torn down."""
    with moto_server(workdir) as endpoint:
        env = aws_env(endpoint, bucket=bucket) | extra_env(endpoint)
        with Service(env, workdir).running(workers=workers) as running:
            yield running
