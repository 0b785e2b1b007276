"""Hand-written in-memory backends for unit tests, with switches to make them fail."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from dataclasses import dataclass, field

from sharer.edge_cache import EdgeCache, EdgeCacheUnavailable
from sharer.queues import Delivery, Queue, QueueUnavailable
from sharer.storage import (
    IMMUTABLE_CACHE_CONTROL,
    ListedKey,
    ObjectNotFound,
    Storage,
    StorageUnavailable,
    StoredObject,
)


class FakeStorage(Storage):
    """A dict of objects. ``failing`` makes every call raise; ``fail_puts_to`` only puts
    whose key contains one of its strings."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self.failing = False
        self.fail_puts_to: set[str] = set()
        self.fail_deletes = False
        # Last-write times for list_keys: set by put, and by tests to age an object.
        self.modified: dict[str, float] = {}

    def _maybe_fail(self) -> None:
        if self.failing:
            raise StorageUnavailable("fake storage is down")

    def put(self, key: str, body: bytes, content_type: str, *, immutable: bool = True) -> None:
        self._maybe_fail()
        if any(part in key for part in self.fail_puts_to):
            raise StorageUnavailable(f"fake storage refuses {key}")
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'  # quoted, as the adapters give it
        cache_control = IMMUTABLE_CACHE_CONTROL if immutable else None
        self.objects[key] = StoredObject(body, content_type, etag, cache_control)
        self.modified[key] = time.time()

    def get(self, key: str) -> StoredObject:
        self._maybe_fail()
        try:
            return self.objects[key]
        except KeyError:
            raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        self._maybe_fail()
        if self.fail_deletes:
            raise StorageUnavailable("fake storage refuses deletes")
        self.objects.pop(key, None)

    def list_keys(self, prefix: str, *, limit: int) -> list[ListedKey]:
        self._maybe_fail()
        names = sorted(
            k for k in self.objects if k.startswith(prefix) and "/" not in k[len(prefix) :]
        )
        return [ListedKey(key, self.modified.get(key, 0.0)) for key in names[:limit]]

    def check(self) -> None:
        self._maybe_fail()


@dataclass
class FakeMessage:
    """A message with what the fake queue knows of it."""

    body: str
    receive_count: int = 0
    visible: bool = True
    hidden_for: int = 0


@dataclass
class FakeQueue(Queue):
    """A list of messages; visibility is recorded, not timed (tests flip it by hand)."""

    messages: dict[str, FakeMessage] = field(default_factory=dict)
    dead: list[tuple[str, str]] = field(default_factory=list)
    failing: bool = False
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _maybe_fail(self) -> None:
        if self.failing:
            raise QueueUnavailable("fake queue is down")

    def send(self, body: str) -> None:
        self._maybe_fail()
        with self._lock:
            self.messages[f"m{next(self._ids)}"] = FakeMessage(body)

    def receive(self, max_messages: int, wait_seconds: float) -> list[Delivery]:
        self._maybe_fail()
        out: list[Delivery] = []
        with self._lock:
            for receipt, message in self.messages.items():
                if len(out) == max_messages:
                    break
                if message.visible:
                    message.visible = False
                    message.receive_count += 1
                    out.append(Delivery(message.body, receipt, message.receive_count))
        return out

    def delete(self, receipt: str) -> None:
        self._maybe_fail()
        with self._lock:
            self.messages.pop(receipt, None)

    def change_visibility(self, receipt: str, seconds: int) -> None:
        self._maybe_fail()
        with self._lock:
            message = self.messages[receipt]
            message.visible = seconds == 0
            message.hidden_for = seconds

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        self._maybe_fail()
        with self._lock:
            self.messages.pop(delivery.receipt, None)
            self.dead.append((delivery.body, reason))

    def check(self) -> None:
        self._maybe_fail()


@dataclass
class FakeEdgeCache(EdgeCache):
    """Records the prefixes it was told to forget; ``failing`` makes it raise."""

    forgotten: list[str] = field(default_factory=list)
    failing: bool = False

    def forget(self, path_prefix: str) -> None:
        if self.failing:
            raise EdgeCacheUnavailable("fake CDN is down")
        self.forgotten.append(path_prefix)
