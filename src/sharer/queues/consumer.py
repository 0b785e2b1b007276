"""The consume loop: long-poll, process on a thread pool, keep jobs hidden, stop cleanly.

Pillow releases the GIL while decoding, resizing and encoding, so threads give real
parallelism for thumbnails and overlap the storage round trips.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from sharer.queues import Delivery, Queue, QueueUnavailable

log = logging.getLogger("sharer.worker")

# Longest pause after the queue fails to answer before asking again.
MAX_OUTAGE_BACKOFF_SECONDS = 30


@dataclass(frozen=True)
class ConsumerOptions:
    """How many jobs at once, how long they stay hidden, how long to wait when stopping."""

    threads: int
    visibility_timeout: int
    grace_seconds: float
    poll_seconds: float


class Consumer:
    """Feeds deliveries from ``queue`` to ``handle`` until told to stop."""

    def __init__(
        self, queue: Queue, handle: Callable[[Delivery], None], options: ConsumerOptions
    ) -> None:
        self.queue = queue
        self.handle = handle
        self.options = options
        self._in_flight: dict[str, Future[None]] = {}
        self._in_flight_lock = threading.Condition()

    def run(
        self,
        stop: threading.Event,
        drain_deadline: Callable[[], float | None] = lambda: None,
    ) -> bool:
        """Consume until ``stop`` is set, then drain; True if every job finished in time.

        Running jobs get the grace period counted from the stop, or less when
        ``drain_deadline`` gives an earlier ``time.monotonic()`` deadline (a Spot
        interruption's); the rest are released.
        """
        drained = threading.Event()
        heartbeat = threading.Thread(
            target=self._keep_hidden, args=(drained,), name="visibility", daemon=True
        )
        heartbeat.start()
        stopped_at: list[float] = []
        waker = threading.Thread(
            target=self._wake_on_stop, args=(stop, stopped_at), name="stop", daemon=True
        )
        waker.start()
        pool = ThreadPoolExecutor(self.options.threads, thread_name_prefix="job")
        finished = False
        try:
            self._receive_until(stop, pool)
            waker.join()
            deadline = stopped_at[0] + self.options.grace_seconds
            notice_deadline = drain_deadline()
            if notice_deadline is not None:
                deadline = min(deadline, notice_deadline)
            finished = self._drain(deadline)
        finally:
            drained.set()
            # A job still running after the grace period is not waited for: its message
            # has been released and another worker will redo it.
            pool.shutdown(wait=finished, cancel_futures=True)
        return finished

    def _wake_on_stop(self, stop: threading.Event, stopped_at: list[float]) -> None:
        # A stop must not wait for a job to end or a poll to time out before the drain
        # begins, and the grace period runs from the stop itself: a long poll under way
        # must not push the drain past what the service manager allows for stopping.
        stop.wait()
        stopped_at.append(time.monotonic())
        with self._in_flight_lock:
            self._in_flight_lock.notify_all()

    def _receive_until(self, stop: threading.Event, pool: ThreadPoolExecutor) -> None:
        outages = 0
        while not stop.is_set():
            free = self._wait_for_free_slots(stop)
            if not free:
                continue
            try:
                deliveries = self.queue.receive(free, self.options.poll_seconds)
            except QueueUnavailable:
                outages += 1
                pause = min(2**outages, MAX_OUTAGE_BACKOFF_SECONDS)
                log.exception("queue unavailable", extra={"retry_in_s": pause})
                stop.wait(pause)
                continue
            outages = 0
            for delivery in deliveries:
                if stop.is_set():
                    self._release(delivery.receipt)
                else:
                    self._start(pool, delivery)

    def _wait_for_free_slots(self, stop: threading.Event) -> int:
        with self._in_flight_lock:
            self._in_flight_lock.wait_for(
                lambda: stop.is_set() or len(self._in_flight) < self.options.threads,
                timeout=self.options.poll_seconds,
            )
            return 0 if stop.is_set() else self.options.threads - len(self._in_flight)

    def _start(self, pool: ThreadPoolExecutor, delivery: Delivery) -> None:
        future = pool.submit(self._run_one, delivery)
        with self._in_flight_lock:
            self._in_flight[delivery.receipt] = future
        future.add_done_callback(lambda _: self._finished(delivery.receipt))

    def _run_one(self, delivery: Delivery) -> None:
        try:
            self.handle(delivery)
        except Exception:
            # The message stays in the queue and comes back after its visibility timeout.
            log.exception("job crashed", extra={"receive_count": delivery.receive_count})

    def _finished(self, receipt: str) -> None:
        with self._in_flight_lock:
            self._in_flight.pop(receipt, None)
            self._in_flight_lock.notify_all()

    def _keep_hidden(self, drained: threading.Event) -> None:
        """Extend the visibility of running jobs so a slow one is not handed out twice."""
        while not drained.wait(self.options.visibility_timeout / 3):
            # Under the lock, so a job released by _drain is never extended afterwards.
            with self._in_flight_lock:
                for receipt in self._in_flight:
                    try:
                        self.queue.change_visibility(receipt, self.options.visibility_timeout)
                    except Exception as exc:  # noqa: BLE001 - e.g. the job was just deleted
                        log.warning("could not extend visibility", extra={"error": repr(exc)})

    def _drain(self, deadline: float) -> bool:
        with self._in_flight_lock:
            running = dict(self._in_flight)
        grace = max(0.0, deadline - time.monotonic())
        if running:
            log.info(
                "stopping: waiting for running jobs", extra={"jobs": len(running), "wait_s": grace}
            )
        _, not_done = wait(running.values(), timeout=grace)
        with self._in_flight_lock:
            for receipt, future in running.items():
                if future in not_done:
                    self._in_flight.pop(receipt, None)
                    self._release(receipt)
        return not not_done

    def _release(self, receipt: str) -> None:
        """Hand a message back to the queue at once, for another worker to take."""
        try:
            self.queue.change_visibility(receipt, 0)
        except QueueUnavailable:
            log.exception("could not release a message; it returns after its timeout")
