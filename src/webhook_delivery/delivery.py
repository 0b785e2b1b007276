"""Delivering one queued webhook event: signed, POSTed, retried with backoff, or dead.

Each attempt sends the event's own payload with its own ``webhook-id`` (fixed when it was
queued), signed afresh (``sharer.webhook_signatures``). A 2xx answer ends it; anything
else (another status, a redirect, which is never followed, a timeout, a refused target)
hides the message for an exponential delay with jitter, so the queue hands it back
later. Once the event is ``RETRY_WINDOW_SECONDS`` old and an attempt fails, it goes to
the dead-letter queue with a logged error.
"""

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from sharer.queues import Delivery, Queue
from sharer.webhook_events import decode_event
from sharer.webhook_signatures import webhook_headers
from webhook_delivery.targets import TargetRefused, check_target

log = logging.getLogger("sharer.webhooks")

# Standard Webhooks asks senders to keep retrying for at least a day.
RETRY_WINDOW_SECONDS = 24 * 60 * 60
# The longest wait between two attempts; SQS allows a message to hide up to 12 hours.
MAX_RETRY_DELAY_SECONDS = 60 * 60
# Connecting, then waiting for the answer: a receiver should answer at once and work later.
CONNECT_TIMEOUT_SECONDS = 5
ANSWER_TIMEOUT_SECONDS = 15


def retry_delay(attempt: int, base_seconds: int, jitter: Callable[[], float]) -> int:
    """Seconds to wait after failed attempt ``attempt`` (1 for the first): ``base_seconds``
    doubled each time up to an hour, times a random factor from a half to one
    (``jitter`` gives a number in [0, 1)), so receivers coming back are not stampeded."""
    doubled: int = base_seconds << min(attempt - 1, 32)
    ceiling = min(doubled, MAX_RETRY_DELAY_SECONDS)
    return max(1, math.ceil(ceiling * (0.5 + jitter() / 2)))


@dataclass
class WebhookDeliverer:
    """Handles deliveries from the webhook queue; safe to share between threads."""

    queue: Queue
    url: str
    secret: bytes
    allow_private: bool
    retry_base_seconds: int
    session: requests.Session = field(default_factory=requests.Session)
    clock: Callable[[], float] = time.time
    jitter: Callable[[], float] = random.random

    def handle(self, delivery: Delivery) -> None:
        """One attempt at ``delivery``'s event: delivered, retried later, or dead."""
        try:
            event = decode_event(delivery.body)
        except ValueError as exc:
            self._dead_letter(delivery, None, f"unreadable webhook event: {exc}")
            return
        body = event.payload.encode()
        now = self.clock()
        headers = webhook_headers(self.secret, event.webhook_id, int(now), body)
        headers["Content-Type"] = "application/json"
        try:
            check_target(self.url, allow_private=self.allow_private)
            response = self.session.post(
                self.url,
                data=body,
                headers=headers,
                timeout=(CONNECT_TIMEOUT_SECONDS, ANSWER_TIMEOUT_SECONDS),
                allow_redirects=False,
            )
        except (TargetRefused, OSError, requests.RequestException) as exc:
            failure = repr(exc)
        else:
            if 200 <= response.status_code < 300:
                self.queue.delete(delivery.receipt)
                log.info(
                    "webhook delivered",
                    extra={"webhook_id": event.webhook_id, "attempt": delivery.receive_count},
                )
                return
            failure = f"answered {response.status_code}"
        if now - event.timestamp >= RETRY_WINDOW_SECONDS:
            self._dead_letter(delivery, event.webhook_id, f"gave up after a day: {failure}")
            return
        delay = retry_delay(delivery.receive_count, self.retry_base_seconds, self.jitter)
        log.warning(
            "webhook delivery failed, will retry",
            extra={
                "webhook_id": event.webhook_id,
                "attempt": delivery.receive_count,
                "failure": failure,
                "retry_in_s": delay,
            },
        )
        self.queue.change_visibility(delivery.receipt, delay)

    def _dead_letter(self, delivery: Delivery, webhook_id: str | None, reason: str) -> None:
        self.queue.dead_letter(delivery, reason)
        log.error(
            "webhook event dead-lettered",
            extra={
                "webhook_id": webhook_id,
                "attempt": delivery.receive_count,
                "reason": reason,
            },
        )
