"""Real processes on loopback, on both backend pairs, with short timeouts so faults heal fast.

Each test gets its own service (a fresh directory, or a fresh bucket and queues on the
one moto server of the session) and a ``FaultProxy`` in front of moto that its processes
use only when the test asks for it.
"""

import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from faults.backends import AwsBackends, Backends, LocalBackends, backends_for
from support import images
from support.faults import FaultProxy, held
from support.load import Accepted, upload_many
from support.services import Service, aws_env, local_env, moto_server
from support.waiting import wait_for

# Two seconds hidden: a killed worker's jobs come back quickly; the heartbeat extends
# running jobs every 2/3 s. Three receives: a failing job is dead-lettered after ~6 s
# of backoff (2 s, then 4 s).
FAULT_SETTINGS = {
    "SHARER_VISIBILITY_TIMEOUT": "2",
    "SHARER_MAX_RECEIVES": "3",
    "SHARER_WORKER_GRACE_SECONDS": "5",
}


@dataclass
class Stack:
    """A service (not started) plus the test's view of its backends and the fault proxy.

    ``service.env`` talks to the backends directly; pass ``via_proxy`` as extra settings
    to a process that should go through the proxy instead (AWS only).
    """

    service: Service
    backends: Backends
    proxy: FaultProxy | None

    @property
    def via_proxy(self) -> dict[str, str]:
        """Settings that route a process's S3 and SQS calls through the fault proxy."""
        assert self.proxy is not None, "the fault proxy stands in front of moto only"
        return {"SHARER_AWS_ENDPOINT_URL": self.proxy.url}

    def logged(self, process: str, message: str) -> list[dict[str, object]]:
        """The JSON log records with ``msg`` == ``message`` of one process (``worker-0``...)."""
        return [record for record in self.service.logs(process) if record["msg"] == message]

    def upload_slow_batch(self, total: int) -> list[Accepted]:
        """``total`` uploads (all 202) of 1600x1200 JPEGs: jobs of a few tenths of a
        second each, so a worker is caught holding some."""
        payloads = [images.jpeg((1600, 1200), seed=seed) for seed in (1, 2)]
        tally = upload_many(self.service.base_url, payloads, concurrency=4, total=total)
        assert tally.statuses == {202: total}
        return tally.accepted

    def start_worker_holding_jobs(self, **env: str) -> "subprocess.Popen[bytes]":
        """A worker with the extra settings ``env``, once it holds a job."""
        worker = self.service.start_worker(**env)
        assert wait_for(lambda: self.backends.in_flight() > 0, timeout=20), "never took a job"
        return worker

    def start_worker_stuck_on_originals(self, **env: str) -> "subprocess.Popen[bytes]":
        """A worker whose reads of originals cannot finish for now, once it holds a job:
        on AWS the proxy holds them for 30 s once asked; on the embedded backends each
        original is a named pipe until ``let_originals_through``."""
        if isinstance(self.backends, LocalBackends):
            self.backends.hold_originals()
            return self.start_worker_holding_jobs(**env)
        assert self.proxy is not None
        assert isinstance(self.backends, AwsBackends)
        bucket = self.backends.bucket
        self.proxy.inject(lambda r: r.is_s3_object(bucket, "images/"), held(30))
        worker = self.service.start_worker(**self.via_proxy, **env)
        proxy = self.proxy
        assert wait_for(lambda: proxy.hits > 0, timeout=20), (
            "the worker never asked for an original"
        )
        return worker

    def let_originals_through(self) -> None:
        """Undo ``start_worker_stuck_on_originals`` for the workers started from now on."""
        if isinstance(self.backends, LocalBackends):
            self.backends.let_originals_through()
        elif self.proxy is not None:
            self.proxy.heal()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto server for every AWS-flavoured fault test."""
    with moto_server(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "aws"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """A fresh service on the backend pair of the parameter; stopped after the test."""
    yield from _stack(request, request.param, tmp_path)


@pytest.fixture
def local_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """A fresh service on the embedded backends."""
    yield from _stack(request, "local", tmp_path)


@pytest.fixture
def aws_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """A fresh service on S3 and SQS (moto)."""
    yield from _stack(request, "aws", tmp_path)


def _stack(request: pytest.FixtureRequest, kind: str, workdir: Path) -> Iterator[Stack]:
    if kind == "local":
        env = local_env(workdir) | FAULT_SETTINGS
        yield from _running(Stack(Service(env, workdir), backends_for(kind, env), None))
        return
    endpoint: str = request.getfixturevalue("moto_endpoint")
    env = aws_env(endpoint, bucket=f"faults-{secrets.token_hex(6)}", max_receives=3)
    env |= FAULT_SETTINGS
    with FaultProxy(endpoint) as proxy:
        yield from _running(Stack(Service(env, workdir), backends_for(kind, env), proxy))


def _running(stack: Stack) -> Iterator[Stack]:
    try:
        yield stack
    finally:
        # The tests that need a graceful stop do it themselves; here only speed matters:
        # SIGQUIT is gunicorn's immediate shutdown (its master stops its workers too).
        service = stack.service
        if service.server is not None and service.server.poll() is None:
            service.server.send_signal(signal.SIGQUIT)
        for worker in service.workers:
            if worker.poll() is None:
                worker.kill()
        service.stop()
