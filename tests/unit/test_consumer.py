"""The consume loop: concurrency bound, visibility kept, clean stop and release."""

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

import pytest

from sharer.queues import Delivery
from sharer.queues.consumer import Consumer, ConsumerOptions
from support.fakes import FakeQueue
from support.waiting import wait_for

OPTIONS = ConsumerOptions(threads=2, visibility_timeout=3, grace_seconds=1.0, poll_seconds=0.05)


class RunningConsumer:
    """A consumer running in its own thread until ``stop`` is called."""

    def __init__(
        self,
        queue: FakeQueue,
        handle: Callable[[Delivery], None],
        options: ConsumerOptions = OPTIONS,
    ) -> None:
        self._stop = threading.Event()
        self._outcome: list[bool] = []
        consumer = Consumer(queue, handle, options)
        self._thread = threading.Thread(
            target=lambda: self._outcome.append(consumer.run(self._stop))
        )
        self._thread.start()

    def stop(self) -> bool:
        """Ask it to stop; return whether every job finished within the grace period."""
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()
        return self._outcome[0]


def test_processes_every_message_never_more_than_threads_at_once() -> None:
    queue = FakeQueue()
    for n in range(10):
        queue.send(str(n))
    running = 0
    peak = 0
    lock = threading.Lock()
    done: list[str] = []

    def handle(delivery: Delivery) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
            done.append(delivery.body)
        queue.delete(delivery.receipt)

    consumer = RunningConsumer(queue, handle)
    assert wait_for(lambda: len(done) == 10, timeout=5)
    assert consumer.stop()
    assert sorted(done, key=int) == [str(n) for n in range(10)]
    assert peak == OPTIONS.threads
    assert queue.messages == {}


def test_stop_waits_for_running_jobs_within_grace() -> None:
    queue = FakeQueue()
    queue.send("slow")
    started = threading.Event()
    finished: list[bool] = []

    def handle(delivery: Delivery) -> None:
        started.set()
        time.sleep(0.3)
        queue.delete(delivery.receipt)
        finished.append(True)

    consumer = RunningConsumer(queue, handle)
    assert started.wait(5)
    assert consumer.stop()
    assert finished == [True]
    assert queue.messages == {}


def test_a_job_outliving_the_grace_period_is_released_to_the_queue() -> None:
    queue = FakeQueue()
    queue.send("stuck")
    started = threading.Event()
    unblock = threading.Event()

    def handle(delivery: Delivery) -> None:
        started.set()
        unblock.wait(10)

    consumer = RunningConsumer(queue, handle)
    assert started.wait(5)
    assert not consumer.stop()
    unblock.set()
    (message,) = queue.messages.values()
    assert message.visible  # handed back for another worker


def test_running_jobs_have_their_visibility_extended() -> None:
    queue = FakeQueue()
    queue.send("long")
    unblock = threading.Event()

    def handle(delivery: Delivery) -> None:
        unblock.wait(10)
        queue.delete(delivery.receipt)

    consumer = RunningConsumer(queue, handle)
    # The heartbeat runs every visibility_timeout / 3 = 1 s.
    assert wait_for(
        lambda: any(m.hidden_for == OPTIONS.visibility_timeout for m in queue.messages.values()),
        timeout=5,
    )
    unblock.set()
    assert consumer.stop()
    assert queue.messages == {}


def test_a_crashing_job_leaves_its_message_for_redelivery() -> None:
    queue = FakeQueue()
    queue.send("boom")
    crashed = threading.Event()

    def handle(delivery: Delivery) -> None:
        crashed.set()
        raise RuntimeError("bug")

    consumer = RunningConsumer(queue, handle)
    assert crashed.wait(5)
    assert consumer.stop()
    assert len(queue.messages) == 1


class LongPollingQueue(FakeQueue):
    """A fake that, like SQS, holds an empty receive for its whole wait."""

    def receive(self, max_messages: int, wait_seconds: float) -> list[Delivery]:
        deliveries = super().receive(max_messages, wait_seconds)
        if not deliveries:
            threading.Event().wait(wait_seconds)
        return deliveries


def _stuck_job(queue: FakeQueue) -> tuple[Callable[[Delivery], None], threading.Event]:
    """A handler that blocks (until the test ends) and the event set once it runs."""
    queue.send("stuck")
    started, unblock = threading.Event(), threading.Event()

    def handle(delivery: Delivery) -> None:
        started.set()
        unblock.wait(10)

    return handle, started


def test_a_stop_drains_at_once_when_every_thread_is_busy() -> None:
    # One thread, busy: the loop waits for a free one, up to a 30 s poll; the stop must
    # end that wait, or the drain (and the release) would start only 30 s later.
    queue = FakeQueue()
    handle, started = _stuck_job(queue)
    options = dataclasses.replace(OPTIONS, threads=1, poll_seconds=30)
    consumer = RunningConsumer(queue, handle, options)
    assert started.wait(5)
    assert not consumer.stop()  # within stop()'s 5 s join, not the 30 s poll
    (message,) = queue.messages.values()
    assert message.visible


def test_the_grace_period_runs_from_the_stop_not_from_the_end_of_a_long_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A receive under way when the stop comes returns only at the end of its wait; the
    # grace period has run meanwhile, so the running job is released at once.
    queue = LongPollingQueue()
    handle, started = _stuck_job(queue)
    options = dataclasses.replace(OPTIONS, poll_seconds=2.0, grace_seconds=0.5)
    consumer = RunningConsumer(queue, handle, options)
    assert started.wait(5)
    time.sleep(0.2)  # the other thread's receive is now in its long poll
    with caplog.at_level(logging.INFO, logger="sharer.worker"):
        assert not consumer.stop()
    (drain,) = [r for r in caplog.records if r.getMessage() == "stopping: waiting for running jobs"]
    assert drain.__dict__["wait_s"] == 0
