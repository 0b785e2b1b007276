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
    ObjectExists,
    ObjectNotFound,
    Storage,
    StorageUnavailable,
    StoredObject,
)
from sharer.storage.port import validate_key, validate_prefix


class FakeStorage(Storage):
    """A dict of objects, held to the Storage contract suite (the same keys refused).

    ``failing`` makes every call raise; ``fail_puts_to`` only puts whose key contains
    one of its strings."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self.failing = False
        self.fail_puts_to: set[str] = set()
        self.fail_deletes = False
        # Last-write times for list_keys: set by put, and by tests to age an object.
        self.modified: dict[str, float] = {}
        self._create_lock = threading.Lock()

    def _maybe_fail(self) -> None:
        if self.failing:
            raise StorageUnavailable("fake storage is down") from ConnectionRefusedError("fake")

    def put(self, key: str, body: bytes, content_type: str, *, immutable: bool = True) -> None:
        validate_key(key)
        self._maybe_fail()
        if any(part in key for part in self.fail_puts_to):
            raise StorageUnavailable(f"fake storage refuses {key}")
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'  # quoted, as the adapters give it
        cache_control = IMMUTABLE_CACHE_CONTROL if immutable else None
        self.objects[key] = StoredObject(body, content_type, etag, cache_control)
        self.modified[key] = time.time()

    def put_new(self, key: str, body: bytes, content_type: str) -> None:
        validate_key(key)
        self._maybe_fail()
        with self._create_lock:
            if key in self.objects:
                raise ObjectExists(key)
            self.put(key, body, content_type, immutable=False)

    def get(self, key: str) -> StoredObject:
        validate_key(key)
        self._maybe_fail()
        try:
            return self.objects[key]
        except KeyError:
            raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        validate_key(key)
        self._maybe_fail()
        if self.fail_deletes:
            raise StorageUnavailable("fake storage refuses deletes")
        self.objects.pop(key, None)

    def list_keys(self, prefix: str, *, limit: int) -> list[ListedKey]:
        validate_prefix(prefix)
        self._maybe_fail()
        names = sorted(
            k for k in self.objects if k.startswith(prefix) and "/" not in k[len(prefix) :]
        )
        return [ListedKey(key, self.modified.get(key, 0.0)) for key in names[:limit]]

    def check(self) -> None:
        self._maybe_fail()


@dataclass
class FakeMessage:
    """A message with what the fake queue knows of it: ``receipt`` is its latest
    delivery's, so an earlier delivery's receipt is stale, as on the real queues."""

    body: str
    receive_count: int = 0
    visible: bool = True
    hidden_for: int = 0
    receipt: str | None = None


@dataclass
class FakeQueue(Queue):
    """Messages by id; visibility is recorded, not timed (tests flip it by hand).

    Held to the Queue contract suite: every delivery has a fresh receipt, a stale one
    does nothing, and a message received ``max_receives`` times is moved to ``dead`` by
    the next receive, as SQS redrive and the SQLite queue do.
    """

    messages: dict[str, FakeMessage] = field(default_factory=dict)
    dead: list[tuple[str, str]] = field(default_factory=list)
    failing: bool = False
    max_receives: int = 10
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _maybe_fail(self) -> None:
        if self.failing:
            raise QueueUnavailable("fake queue is down") from ConnectionRefusedError("fake")

    def _held(self, receipt: str) -> str | None:
        """The id of the message whose latest delivery is ``receipt``, if any."""
        for message_id, message in self.messages.items():
            if message.receipt == receipt:
                return message_id
        return None

    def held(self, receipt: str) -> FakeMessage:
        """The message ``receipt`` currently holds (for tests to look at its state)."""
        message_id = self._held(receipt)
        if message_id is None:
            raise KeyError(f"no message is held with receipt {receipt!r}")
        return self.messages[message_id]

    def send(self, body: str) -> None:
        self._maybe_fail()
        with self._lock:
            self.messages[f"m{next(self._ids)}"] = FakeMessage(body)

    def receive(self, max_messages: int, wait_seconds: float) -> list[Delivery]:
        self._maybe_fail()
        out: list[Delivery] = []
        with self._lock:
            for message_id, message in list(self.messages.items()):
                if len(out) == max_messages:
                    break
                if not message.visible:
                    continue
                if message.receive_count >= self.max_receives:
                    del self.messages[message_id]
                    self.dead.append((message.body, f"received {message.receive_count} times"))
                    continue
                message.visible = False
                message.receive_count += 1
                message.receipt = f"{message_id}.{message.receive_count}"
                out.append(Delivery(message.body, message.receipt, message.receive_count))
        return out

    def delete(self, receipt: str) -> None:
        self._maybe_fail()
        with self._lock:
            message_id = self._held(receipt)
            if message_id is not None:
                del self.messages[message_id]

    def change_visibility(self, receipt: str, seconds: int) -> None:
        self._maybe_fail()
        with self._lock:
            message_id = self._held(receipt)
            if message_id is not None:
                message = self.messages[message_id]
                message.visible = seconds == 0
                message.hidden_for = seconds

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        self._maybe_fail()
        with self._lock:
            message_id = self._held(delivery.receipt)
            if message_id is not None:
                del self.messages[message_id]
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
