"""The Queue port: at-least-once delivery with visibility timeouts and a dead-letter queue.

A received message is invisible to other consumers until its visibility timeout passes;
if it is not deleted by then it is delivered again. Once a message has been received
``max_receives`` times without being deleted, the queue moves it to its dead-letter queue
instead of delivering it again (SQS redrive; the SQLite adapter does the same).

Each delivery has its own receipt. Once the message is delivered again (or gone), an
earlier receipt is stale: ``delete`` and ``change_visibility`` with it raise nothing, and
whether they still touch the message is not promised (SQS documents a DeleteMessage with
an old receipt handle as succeeding, the message perhaps not deleted).
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass


class QueueUnavailable(RuntimeError):
    """The queue could not be reached or refused the operation; worth retrying later."""


@dataclass(frozen=True)
class Delivery:
    """One received message: its body, the handle to act on it, and how often it came."""

    body: str
    receipt: str
    receive_count: int


class Queue(ABC):
    """Every method raises ``QueueUnavailable`` when the backend fails."""

    @abstractmethod
    def send(self, body: str) -> None:
        """Enqueue a message; returns only once the queue has durably accepted it."""

    @abstractmethod
    def receive(self, max_messages: int, wait_seconds: float) -> list[Delivery]:
        """Take up to ``max_messages``, waiting up to ``wait_seconds`` for the first one."""

    @abstractmethod
    def delete(self, receipt: str) -> None:
        """Acknowledge a message: it is done and never delivered again."""

    @abstractmethod
    def change_visibility(self, receipt: str, seconds: int) -> None:
        """Keep a message hidden ``seconds`` from now (0 returns it to the queue at once)."""

    @abstractmethod
    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move a message that can never succeed to the dead-letter queue, with ``reason``."""

    @abstractmethod
    def check(self) -> None:
        """Raise ``QueueUnavailable`` unless the queue is reachable and usable."""
