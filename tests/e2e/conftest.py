"""The real service as processes on loopback, once per backend pair: embedded (files and
SQLite) and AWS (S3, SQS and a CloudFront distribution on moto's server)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cdn import create_distribution
from support.services import Service, aws_service, local_service


@pytest.fixture(scope="module", params=["local", "aws"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """A server and one worker on the backend pair named by the parameter."""
    workdir: Path = tmp_path_factory.mktemp(request.param)
    if request.param == "local":
        yield from local_service(workdir)
    else:
        yield from aws_service(
            workdir,
            bucket="e2e-images",
            extra_env=lambda endpoint: {
                "SHARER_CDN_DISTRIBUTION_ID": create_distribution(endpoint, "e2e-images")
            },
        )
