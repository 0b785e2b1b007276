"""The test's own window on the backends a running service uses.

Through the same adapters as the service (``storage``, ``queue``) plus what only an
operator or a test needs: list stored keys, count hidden messages, read and redrive the
dead letters.
"""

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import boto3

from sharer.backends import open_queue, open_storage
from sharer.key_scheme import status_key
from sharer.queues import Queue
from sharer.queues.sqlite import SqliteQueue
from sharer.queues.sqs import SqsQueue
from sharer.settings import CommonSettings
from sharer.status import decode_status
from sharer.storage import Storage
from sharer.storage.local import LocalStorage
from sharer.storage.s3 import S3Storage
from support.sqs import peek, receive_all


@dataclass(frozen=True)
class DeadLetter:
    """A dead letter's body and the reason it carries (None when the queue moved it)."""

    body: str
    reason: str | None


class Backends(ABC):
    """Storage and queue of one service, seen from the test process."""

    storage: Storage
    queue: Queue

    @abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """Every stored key under ``prefix``, sorted."""

    @abstractmethod
    def in_flight(self) -> int:
        """Messages received and not yet deleted (hidden from other workers)."""

    @abstractmethod
    def dead_letters(self) -> list[DeadLetter]:
        """What the dead-letter queue holds, without consuming it."""

    @abstractmethod
    def redrive(self) -> int:
        """Put every dead letter back on the work queue; return how many."""

    def state_of(self, image_id: str) -> str:
        """The state in the image's stored status record."""
        return decode_status(self.storage.get(status_key(image_id)).body).state.value


class LocalBackends(Backends):
    """Files under the storage root and the SQLite queue."""

    storage: LocalStorage
    queue: SqliteQueue

    def __init__(self, env: dict[str, str]) -> None:
        settings = CommonSettings.from_env(env)
        storage, queue = open_storage(settings), open_queue(settings)
        assert isinstance(storage, LocalStorage)
        assert isinstance(queue, SqliteQueue)
        self.storage, self.queue = storage, queue
        self.root: Path = storage.root
        self._held: list[tuple[Path, Path]] = []

    def keys(self, prefix: str) -> list[str]:
        # Hidden names are LocalStorage's temp files, never objects.
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in (self.root / prefix).rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def in_flight(self) -> int:
        return self.queue.counts().in_flight

    def hold_originals(self) -> None:
        """Put a named pipe where each original is, so a worker's read of it blocks
        (no proxy stands between a worker and its files); the file waits aside under a
        hidden name, which ``keys`` never lists."""
        for path in sorted(self.root.glob("images/*/original.*")):
            aside = path.with_name(".held-" + path.name)
            path.rename(aside)
            os.mkfifo(path)
            self._held.append((aside, path))
        assert self._held, "no original to hold"

    def let_originals_through(self) -> None:
        """Put every held original back; a read already blocked on a pipe stays blocked."""
        for aside, path in self._held:
            aside.replace(path)
        self._held.clear()

    def dead_letters(self) -> list[DeadLetter]:
        return [DeadLetter(d.body, d.reason) for d in self.queue.dead_letters()]

    def redrive(self) -> int:
        return self.queue.redrive()


class AwsBackends(Backends):
    """The bucket and the queues on moto, through clients with the test credentials."""

    def __init__(self, env: dict[str, str]) -> None:
        settings = CommonSettings.from_env(env)
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )
        self.bucket = settings.storage_url.removeprefix("s3://")
        self.queue_url = settings.queue_url
        assert settings.dead_letter_queue_url is not None
        self.dead_letter_url = settings.dead_letter_queue_url
        self.s3 = session.client("s3", endpoint_url=settings.aws_endpoint_url)
        self.sqs = session.client("sqs", endpoint_url=settings.aws_endpoint_url)
        self.storage = S3Storage(self.s3, self.bucket)
        self.queue = SqsQueue(
            self.sqs,
            self.queue_url,
            self.dead_letter_url,
            visibility_timeout=settings.visibility_timeout,
        )

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def in_flight(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def dead_letters(self) -> list[DeadLetter]:
        return [DeadLetter(*letter) for letter in peek(self.sqs, self.dead_letter_url)]

    def redrive(self) -> int:
        """What ``aws sqs start-message-move-task`` does (moto does not implement it)."""
        messages = receive_all(self.sqs, self.dead_letter_url)
        for message in messages:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=message["Body"])
            self.sqs.delete_message(
                QueueUrl=self.dead_letter_url, ReceiptHandle=message["ReceiptHandle"]
            )
        return len(messages)


def backends_for(kind: str, env: dict[str, str]) -> Backends:
    """``LocalBackends`` or ``AwsBackends`` for a service's settings."""
    return LocalBackends(env) if kind == "local" else AwsBackends(env)
