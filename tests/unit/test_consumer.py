"""The consume loop: concurrency bound, visibility kept, clean stop and release."""

import threading
import time
from collections.abc import Callable

from sharer.queues import Delivery
from sharer.queues.consumer import Consumer, ConsumerOptions
from support.fakes import FakeQueue
from support.waiting import wait_for

OPTIONS = ConsumerOptions(threads=2, visibility_timeout=3, grace_seconds=1.0, poll_seconds=0.05)


class RunningConsumer:
    """A consumer running in its own thread until ``stop`` is called."""

    def __init__(self, queue: FakeQueue, handle: Callable[[Delivery], None]) -> None:
        self._stop = threading.Event()
        self._outcome: list[bool] = []
        consumer = Consumer(queue, handle, OPTIONS)
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
