"""The work queue: the port and its adapters (SQLite, SQS)."""

from sharer.queues.port import Delivery, Queue, QueueUnavailable

__all__ = ["Delivery", "Queue", "QueueUnavailable"]
