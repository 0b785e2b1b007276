"""``sharer-webhooks``: deliver queued webhook events until SIGTERM, then drain and exit 0.

It consumes the webhook queue (``SHARER_WEBHOOK_QUEUE_URL``) with the worker's consume
loop, a few deliveries at once, so a slow receiver holds up only its own events, never
thumbnails. Without ``SHARER_WEBHOOK_URL`` it has nothing to do and waits to be stopped.
"""

import logging
import signal
import threading
from types import FrameType

from sharer.aws import MAX_LONG_POLL_SECONDS
from sharer.backends import WEBHOOK_VISIBILITY_SECONDS, open_webhook_queue
from sharer.logs import configure_logging
from sharer.queues.consumer import Consumer, ConsumerOptions
from sharer.settings import WebhookDeliverySettings, settings_or_exit
from webhook_delivery.delivery import WebhookDeliverer

log = logging.getLogger("sharer.webhooks")

# Deliveries at once: each mostly waits on a receiver.
DELIVERY_THREADS = 4
# Deliveries running at SIGTERM get this long; the rest come back after their timeout.
GRACE_SECONDS = 20


def main() -> None:
    """Entry point: run until SIGTERM or SIGINT; exit 1 with the bad variable's name."""
    settings = settings_or_exit("sharer-webhooks", WebhookDeliverySettings)
    common = settings.common
    configure_logging(common.log_level)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if common.webhook_url is None or settings.webhook_secret is None:
        log.info("no SHARER_WEBHOOK_URL: no webhooks to deliver")
        stop.wait()
        return
    queue = open_webhook_queue(common)
    deliverer = WebhookDeliverer(
        queue,
        common.webhook_url,
        settings.webhook_secret,
        allow_private=settings.webhook_allow_private,
        retry_base_seconds=settings.webhook_retry_base_seconds,
    )
    options = ConsumerOptions(
        threads=DELIVERY_THREADS,
        visibility_timeout=WEBHOOK_VISIBILITY_SECONDS,
        grace_seconds=GRACE_SECONDS,
        poll_seconds=float(MAX_LONG_POLL_SECONDS),
    )
    log.info("webhook delivery started", extra={"threads": DELIVERY_THREADS})
    Consumer(queue, deliverer.handle, options).run(stop)
    log.info("webhook delivery stopped")


if __name__ == "__main__":
    main()
