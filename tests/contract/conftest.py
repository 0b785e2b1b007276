"""Fixtures that hand the contract suites every adapter of a port, set up for real,
and the hand-written fakes the unit tests use, so a fake cannot drift from the adapters.

LocalStorage and SqliteQueue run on ``tmp_path``; S3Storage and SqsQueue run against
moto's in-process ``mock_aws``, so no request ever leaves the process.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from contract.cases import BUCKET, MAX_RECEIVES, REGION, VISIBILITY_TIMEOUT, QueueCase, StorageCase
from sharer.aws import s3_client, sqs_client
from sharer.queues.sqlite import SqliteQueue
from sharer.queues.sqs import SqsQueue
from sharer.settings import CommonSettings
from sharer.storage.local import LocalStorage
from sharer.storage.s3 import S3Storage
from support.fakes import FakeQueue, FakeStorage
from support.sqs import create_work_queues, peek


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[CommonSettings]:
    """moto's in-process AWS, with the settings the adapters' clients are made from."""
    # Nothing from the developer's own AWS config may leak in, least of all an endpoint.
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield CommonSettings.from_env({"AWS_REGION": REGION, "SHARER_DATA_DIR": "/nonexistent"})


def failing_fake_storage() -> FakeStorage:
    """A fake storage that is down."""
    storage = FakeStorage()
    storage.failing = True
    return storage


@pytest.fixture(params=["local", "s3", "fake"])
def storage_case(request: pytest.FixtureRequest, tmp_path: Path) -> StorageCase:
    """Each Storage adapter in turn, then the unit tests' fake."""
    if request.param == "fake":
        return StorageCase(storage=FakeStorage(), broken=failing_fake_storage)
    if request.param == "local":
        blocker = tmp_path / "blocker"
        blocker.write_bytes(b"a file where the root's parent directory should be")
        return StorageCase(
            storage=LocalStorage(tmp_path / "media"),
            broken=lambda: LocalStorage(blocker / "media"),
        )
    settings: CommonSettings = request.getfixturevalue("moto_aws")
    client = s3_client(settings)
    client.create_bucket(Bucket=BUCKET)
    return StorageCase(
        storage=S3Storage(client, BUCKET, prefix="media"),
        broken=lambda: S3Storage(client, "no-such-bucket"),
        # moto's put_object publishes the new key before it sets the key's metadata and
        # frees the old key's buffer while other requests may read it; S3 itself makes
        # a PUT atomic, so racing moto would test moto, not the adapter.
        concurrency_skip="moto's in-process S3 is not atomic under concurrent overwrites",
    )


@pytest.fixture(params=["sqlite", "sqs", "fake"])
def queue_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueCase]:
    """Each Queue adapter in turn, then the unit tests' fake, with a dead-letter queue
    after MAX_RECEIVES receives."""
    if request.param == "fake":
        fake = FakeQueue(max_receives=MAX_RECEIVES)
        yield QueueCase(
            queue=fake,
            dead_letters=lambda: list(fake.dead),
            broken=lambda: FakeQueue(failing=True),
            timing_skip="the fake records visibility and never waits; it does not model time",
        )
        return
    if request.param == "sqlite":
        queue = SqliteQueue(
            tmp_path / "queue.sqlite3",
            visibility_timeout=VISIBILITY_TIMEOUT,
            max_receives=MAX_RECEIVES,
        )
        garbage = tmp_path / "garbage.sqlite3"
        garbage.write_bytes(b"this is not a database file, whatever its name says" * 100)
        yield QueueCase(
            queue=queue,
            dead_letters=lambda: [(d.body, d.reason) for d in queue.dead_letters()],
            broken=lambda: SqliteQueue(garbage, visibility_timeout=1, max_receives=1),
        )
        queue.close()
        return
    settings: CommonSettings = request.getfixturevalue("moto_aws")
    client = sqs_client(settings)
    # The queue keeps SQS's default visibility (30 s): a redelivery after VISIBILITY_TIMEOUT
    # can then only come from the timeout the adapter itself asks for on every receive.
    queue_url, dlq_url = create_work_queues(client, "jobs", max_receives=MAX_RECEIVES)
    missing_url = queue_url.replace("/jobs", "/no-such-queue")
    yield QueueCase(
        queue=SqsQueue(client, queue_url, dlq_url, visibility_timeout=VISIBILITY_TIMEOUT),
        dead_letters=lambda: peek(client, dlq_url),
        broken=lambda: SqsQueue(client, missing_url, dlq_url, visibility_timeout=1),
    )
