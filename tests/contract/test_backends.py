"""open_storage / open_queue pick the adapter the settings' URLs name, wired correctly."""

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sharer.aws import s3_client, sqs_client
from sharer.backends import open_queue, open_storage
from sharer.queues.sqlite import SqliteQueue
from sharer.queues.sqs import SqsQueue
from sharer.settings import CommonSettings, SettingsError
from sharer.storage.local import LocalStorage
from sharer.storage.port import IMMUTABLE_CACHE_CONTROL
from sharer.storage.s3 import S3Storage


def local_settings(tmp_path: Path) -> CommonSettings:
    """Defaults under ``tmp_path``: file:// storage and a sqlite:// queue."""
    return CommonSettings.from_env(
        {
            "SHARER_DATA_DIR": str(tmp_path / "my data"),
            "SHARER_VISIBILITY_TIMEOUT": "7",
            "SHARER_MAX_RECEIVES": "2",
        }
    )


def test_file_url_opens_local_storage_at_that_directory(tmp_path: Path) -> None:
    storage = open_storage(local_settings(tmp_path))
    storage.put("images/x/small.jpg", b"thumb", "image/jpeg")

    assert isinstance(storage, LocalStorage)
    assert (tmp_path / "my data" / "media" / "images" / "x" / "small.jpg").is_file()


def test_sqlite_url_opens_queue_with_the_settings_limits(tmp_path: Path) -> None:
    queue = open_queue(local_settings(tmp_path))
    queue.send("job")
    for _ in range(2):
        [delivery] = queue.receive(1, 0)
        queue.change_visibility(delivery.receipt, 0)

    assert isinstance(queue, SqliteQueue)
    assert queue.path == tmp_path / "my data" / "queue.sqlite3"
    # SHARER_MAX_RECEIVES=2: a third receive moves it aside instead of delivering it.
    assert queue.receive(1, 0) == []
    assert queue.counts().dead == 1
    queue.close()


def test_s3_url_opens_s3_storage_under_the_prefix(moto_aws: CommonSettings) -> None:
    settings = dataclasses.replace(moto_aws, storage_url="s3://sharer-media/some/prefix/")
    client = s3_client(settings)
    client.create_bucket(Bucket="sharer-media")

    storage = open_storage(settings)
    storage.put("images/x/small.jpg", b"thumb", "image/jpeg")
    head = client.head_object(Bucket="sharer-media", Key="some/prefix/images/x/small.jpg")

    assert isinstance(storage, S3Storage)
    assert head["ContentType"] == "image/jpeg"
    assert head["CacheControl"] == IMMUTABLE_CACHE_CONTROL


def test_sqs_url_opens_sqs_queue_with_its_dead_letter_queue(moto_aws: CommonSettings) -> None:
    client = sqs_client(moto_aws)
    dlq_url = client.create_queue(QueueName="jobs-dead")["QueueUrl"]
    queue_url = client.create_queue(QueueName="jobs")["QueueUrl"]
    settings = dataclasses.replace(
        moto_aws, queue_url=queue_url, dead_letter_queue_url=dlq_url, visibility_timeout=30
    )

    queue = open_queue(settings)
    queue.send(json.dumps({"job": 1}))
    [delivery] = queue.receive(1, 0)
    queue.dead_letter(delivery, "testing the wiring")
    moved = client.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0).get("Messages", [])

    assert isinstance(queue, SqsQueue)
    assert [m["Body"] for m in moved] == [json.dumps({"job": 1})]


@pytest.mark.parametrize(
    ("opener", "field", "url"),
    [
        (open_storage, "storage_url", "ftp://example.org/media"),
        (open_queue, "queue_url", "redis://localhost/0"),
    ],
)
def test_unsupported_urls_are_refused(
    tmp_path: Path, opener: Callable[[CommonSettings], object], field: str, url: str
) -> None:
    changes: dict[str, Any] = {field: url}
    settings = dataclasses.replace(local_settings(tmp_path), **changes)

    with pytest.raises(SettingsError):
        opener(settings)


def test_sqs_without_dead_letter_queue_is_refused(tmp_path: Path) -> None:
    settings = dataclasses.replace(
        local_settings(tmp_path),
        queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
        dead_letter_queue_url=None,
    )

    with pytest.raises(SettingsError, match="DEAD_LETTER"):
        open_queue(settings)
