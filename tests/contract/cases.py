"""What the contract fixtures hand to the tests, and the queue settings they use."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from sharer.queues.port import Queue
from sharer.storage.port import NewObject, Storage

# Short enough that expiry tests take about a second, long enough that a test's own
# steps never outlast it by accident.
VISIBILITY_TIMEOUT = 1
MAX_RECEIVES = 3
REGION = "us-east-1"
BUCKET = "sharer-media"


@dataclass(frozen=True)
class StorageCase:
    """A working storage, one whose ``check`` must fail, and why racing it is moot."""

    storage: Storage
    broken: Callable[[], Storage]
    concurrency_skip: str | None = None


@dataclass(frozen=True)
class QueueCase:
    """A working queue, what its dead-letter queue holds, a broken twin, and why the
    cases that let time pass (timeouts running out, long polls) are moot for it."""

    queue: Queue
    dead_letters: Callable[[], list[tuple[str, str | None]]]
    broken: Callable[[], Queue]
    timing_skip: str | None = None

    def skip_unless_timed(self) -> None:
        """Skip the calling test if this queue does not model the passing of time."""
        if self.timing_skip:
            pytest.skip(self.timing_skip)


def assert_refuses_key(storage: Storage, key: str) -> None:
    """Every operation on ``storage`` refuses ``key`` with the port's ValueError."""
    for operation in (
        lambda: storage.put(key, b"x", "image/jpeg"),
        lambda: storage.put_all([NewObject(key, b"x", "image/jpeg")]),
        lambda: storage.get(key),
        lambda: storage.delete(key),
    ):
        with pytest.raises(ValueError, match="storage key"):
            operation()
