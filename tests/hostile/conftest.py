"""The real service on loopback for hostile-input tests.

``audited`` (files and SQLite) runs under an audit hook that logs every Pillow module its
processes load and every program they try to start, with a fake Ghostscript on its PATH.
``aws_stripping`` (S3 and SQS on moto's server, no worker) stores originals with their
metadata stripped, as the service does by default. Both live for the session.
"""

from collections.abc import Iterator

import pytest

from hostile.auditing import Audited, audit_env, fake_ghostscript
from support.services import Service, aws_env, local_env, moto_server


@pytest.fixture(scope="session")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    """Server and worker on the embedded backends, under the audit hook."""
    workdir = tmp_path_factory.mktemp("hostile-local")
    log = workdir / "audit.jsonl"
    gs_dir = fake_ghostscript(tmp_path_factory.mktemp("bin"))
    service = Service(local_env(workdir) | audit_env(log, path_first=gs_dir), workdir)
    with service.running(workers=1):
        yield Audited(service, log)


@pytest.fixture(scope="session")
def local(audited: Audited) -> Service:
    """The audited embedded-backend service, for tests that need only HTTP."""
    return audited.service


@pytest.fixture(scope="session")
def aws_stripping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server alone (what is stored is all that matters here) on moto's S3 and SQS,
    storing originals stripped of their metadata, as it does by default."""
    workdir = tmp_path_factory.mktemp("hostile-aws")
    with (
        moto_server(workdir) as endpoint,
        Service(aws_env(endpoint, bucket="hostile"), workdir).running() as service,
    ):
        yield service
