"""The real service as processes on loopback, once per backend pair: embedded (files and
SQLite) and AWS (S3, SQS and a CloudFront distribution on moto's server)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cdn import create_distribution
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
        with moto_server(workdir) as endpoint:
            env = aws_env(endpoint, bucket="e2e-images")
            env["SHARER_CDN_DISTRIBUTION_ID"] = create_distribution(endpoint, "e2e-images")
            with Service(env, workdir).running(workers=1) as running:
                yield running
