"""What every Queue adapter must do; run against SqliteQueue, SqsQueue (moto) and the
unit tests' FakeQueue (which skips only the cases where time must pass).

The queues have a 1 s visibility timeout and move a message to the dead-letter queue
after MAX_RECEIVES receives (see conftest). Waits that let a visibility timeout run out
sleep just past it; every receive has a bounded wait.
"""

import threading
import time

import pytest

from contract.cases import MAX_RECEIVES, VISIBILITY_TIMEOUT, QueueCase
from sharer.queues.port import Delivery, Queue, QueueUnavailable

PAST_VISIBILITY = VISIBILITY_TIMEOUT + 0.3


def receive_one(queue: Queue, wait_seconds: float = 3) -> Delivery:
    """Exactly one delivery within ``wait_seconds``."""
    deliveries = queue.receive(1, wait_seconds)
    assert len(deliveries) == 1
    return deliveries[0]


def test_send_receive_delete(queue_case: QueueCase) -> None:
    queue = queue_case.queue
    bodies = {f'{{"job":{n}}}' for n in range(3)}
    for body in bodies:
        queue.send(body)

    deliveries: list[Delivery] = []
    for _ in range(5):
        deliveries += queue.receive(10, 1)
        if len(deliveries) >= len(bodies):
            break
    for delivery in deliveries:
        queue.delete(delivery.receipt)
    time.sleep(PAST_VISIBILITY)

    assert sorted(d.body for d in deliveries) == sorted(bodies)
    assert {d.receive_count for d in deliveries} == {1}
    assert len({d.receipt for d in deliveries}) == len(bodies)
    # Deleted for good: not even a lapsed visibility timeout brings them back.
    assert queue.receive(10, 0) == []


def test_received_message_is_hidden_then_redelivered_with_higher_count(
    queue_case: QueueCase,
) -> None:
    queue_case.skip_unless_timed()
    queue = queue_case.queue
    queue.send("job")

    first = receive_one(queue)
    hidden = queue.receive(1, 0)
    second = receive_one(queue, wait_seconds=VISIBILITY_TIMEOUT + 2)

    assert hidden == []
    assert (second.body, second.receive_count) == ("job", 2)
    assert first.receive_count == 1
    assert second.receipt != first.receipt


def test_change_visibility_extends_the_hiding(queue_case: QueueCase) -> None:
    queue = queue_case.queue
    queue.send("long job")
    delivery = receive_one(queue)

    queue.change_visibility(delivery.receipt, VISIBILITY_TIMEOUT + 5)
    time.sleep(PAST_VISIBILITY)

    assert queue.receive(1, 0) == []


def test_change_visibility_zero_releases_at_once(queue_case: QueueCase) -> None:
    queue = queue_case.queue
    queue.send("job")
    delivery = receive_one(queue)
    # Hidden for a minute first: getting it back now can only be the release's doing.
    queue.change_visibility(delivery.receipt, 60)

    queue.change_visibility(delivery.receipt, 0)
    again = receive_one(queue, wait_seconds=2)

    assert (again.body, again.receive_count) == ("job", 2)


def test_receive_on_empty_queue_waits_but_no_longer_than_asked(queue_case: QueueCase) -> None:
    queue_case.skip_unless_timed()
    started = time.monotonic()
    deliveries = queue_case.queue.receive(1, 1)
    elapsed = time.monotonic() - started

    assert deliveries == []
    # A long poll, not a busy return; the upper bound leaves room for a slow machine.
    assert 0.8 <= elapsed < 3.0


def test_receive_returns_as_soon_as_a_message_arrives(queue_case: QueueCase) -> None:
    queue_case.skip_unless_timed()
    queue = queue_case.queue
    sender = threading.Timer(0.3, queue.send, args=("late job",))
    sender.start()
    try:
        started = time.monotonic()
        delivery = receive_one(queue, wait_seconds=10)
        elapsed = time.monotonic() - started
    finally:
        sender.join(timeout=5)

    assert delivery.body == "late job"
    assert elapsed < 5


def test_a_stale_receipt_raises_nothing_and_the_current_one_still_works(
    queue_case: QueueCase,
) -> None:
    # A receipt is stale once its message was delivered again. SQS documents a delete
    # with one as succeeding (the message may or may not go), so the contract is only
    # that no caller is told: a worker that lost its message to a slow job carries on.
    queue = queue_case.queue
    queue.send("job")
    stale = receive_one(queue)
    queue.change_visibility(stale.receipt, 0)
    current = receive_one(queue)

    queue.delete(stale.receipt)
    queue.change_visibility(stale.receipt, 0)
    queue.delete(current.receipt)
    queue.change_visibility(current.receipt, 0)

    assert (current.body, current.receive_count) == ("job", 2)
    assert current.receipt != stale.receipt
    assert queue.receive(10, 0) == []


def test_message_received_max_receives_times_goes_to_dead_letter_queue(
    queue_case: QueueCase,
) -> None:
    queue = queue_case.queue
    queue.send("poison")

    counts = []
    for _ in range(MAX_RECEIVES):
        delivery = receive_one(queue)
        counts.append(delivery.receive_count)
        queue.change_visibility(delivery.receipt, 0)
    after_limit = queue.receive(1, 0)

    assert counts == list(range(1, MAX_RECEIVES + 1))
    assert after_limit == []
    assert [body for body, _ in queue_case.dead_letters()] == ["poison"]


def test_dead_letter_moves_at_once_with_reason(queue_case: QueueCase) -> None:
    queue = queue_case.queue
    queue.send("unreadable")
    queue.send("fine")
    delivery = receive_one(queue)
    other = receive_one(queue)
    poison, fine = (delivery, other) if delivery.body == "unreadable" else (other, delivery)

    queue.dead_letter(poison, "unsupported schema version 9")
    dead = queue_case.dead_letters()
    # The other is handed back by hand, so a queue that does not model time gives it
    # back too; the wait lets the poison's own timeout run out where time is modelled.
    queue.change_visibility(fine.receipt, 0)
    time.sleep(PAST_VISIBILITY)
    left = queue.receive(10, 1)

    assert dead == [("unreadable", "unsupported schema version 9")]
    assert [d.body for d in left] == ["fine"]


def test_check_passes_on_a_usable_queue(queue_case: QueueCase) -> None:
    queue_case.queue.check()


def test_check_and_send_raise_queue_unavailable_when_queue_is_unusable(
    queue_case: QueueCase,
) -> None:
    broken = queue_case.broken()

    with pytest.raises(QueueUnavailable) as caught:
        broken.check()
    assert caught.value.__cause__ is not None
    with pytest.raises(QueueUnavailable):
        broken.send("job")
