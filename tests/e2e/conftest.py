"""The real service as processes on loopback, once per backend pair: embedded (files and
SQLite) and AWS (S3 and SQS on moto's server)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.services import Service, aws_env, local_env, moto_server


@pytest.fixture(scope="module", params=["local", "aws"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """A server and one worker on the backend pair named by the parameter."""
    workdir: Path = tmp_path_factory.mktemp(request.param)
    if request.param == "local":
        with Service(local_env(workdir), workdir).running(workers=1) as running:
            yield running
    else:
        with (
            moto_server(workdir) as endpoint,
            Service(aws_env(endpoint, bucket="e2e-images"), workdir).running(workers=1) as running,
        ):
            yield running
