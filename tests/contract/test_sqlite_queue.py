"""What only the SQLite queue promises: processes, stale receipts, operator helpers."""

import multiprocessing
import sqlite3
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from threading import BrokenBarrierError

import pytest

from contract.cases import MAX_RECEIVES, VISIBILITY_TIMEOUT
from sharer.queues.port import QueueUnavailable
from sharer.queues.sqlite import QueueCounts, SqliteQueue

JOBS = 200
CONSUMERS = 3


def make_queue(path: Path, visibility_timeout: int = VISIBILITY_TIMEOUT) -> SqliteQueue:
    """A queue on ``path`` with the contract suite's redrive limit."""
    return SqliteQueue(path, visibility_timeout=visibility_timeout, max_receives=MAX_RECEIVES)


def drain(path: Path, start: Barrier, results: "multiprocessing.Queue[list[str] | str]") -> None:
    """Consumer process: take and delete messages until none is left, report the bodies."""
    try:
        queue = make_queue(path, visibility_timeout=60)
        taken: list[str] = []
        start.wait(timeout=30)
        for _ in range(JOBS):
            deliveries = queue.receive(3, 0)
            if not deliveries:
                break
            for delivery in deliveries:
                taken.append(delivery.body)
                queue.delete(delivery.receipt)
        results.put(taken)
    except (QueueUnavailable, BrokenBarrierError) as exc:
        # Reported rather than lost in the child, so the test fails at once and says why.
        results.put(repr(exc))


def test_concurrent_processes_never_get_the_same_message(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    producer = make_queue(path)
    for n in range(JOBS):
        producer.send(f"job-{n}")
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(CONSUMERS)
    results: multiprocessing.Queue[list[str] | str] = context.Queue()
    consumers = [
        context.Process(target=drain, args=(path, start, results)) for _ in range(CONSUMERS)
    ]
    for consumer in consumers:
        consumer.start()
    try:
        reports = [results.get(timeout=60) for _ in consumers]
    finally:
        for consumer in consumers:
            consumer.join(timeout=10)
            if consumer.is_alive():
                consumer.kill()

    assert [r for r in reports if isinstance(r, str)] == []
    everything = [body for bodies in reports for body in bodies]
    assert len(everything) == len(set(everything)), "a message was delivered twice"
    assert set(everything) == {f"job-{n}" for n in range(JOBS)}
    assert producer.counts() == QueueCounts(visible=0, in_flight=0, dead=0)


def test_stale_receipt_cannot_touch_a_redelivered_message(tmp_path: Path) -> None:
    queue = make_queue(tmp_path / "queue.sqlite3")
    queue.send("job")
    stale = queue.receive(1, 0)[0]
    time.sleep(VISIBILITY_TIMEOUT + 0.3)
    current = queue.receive(1, 0)[0]

    queue.delete(stale.receipt)
    queue.change_visibility(stale.receipt, 0)
    still_hidden = queue.receive(1, 0)
    queue.change_visibility(current.receipt, 0)
    back = queue.receive(1, 0)

    assert still_hidden == []
    assert [(d.body, d.receive_count) for d in back] == [("job", 3)]


def test_redrive_reason_counts_and_redrive_back(tmp_path: Path) -> None:
    queue = make_queue(tmp_path / "queue.sqlite3")
    queue.send("poison")
    for _ in range(MAX_RECEIVES):
        [delivery] = queue.receive(10, 0)
        queue.change_visibility(delivery.receipt, 0)
    queue.send("waiting")
    # This receive moves the poison aside and delivers only the newcomer.
    [waiting] = queue.receive(10, 0)

    counts = queue.counts()
    [dead] = queue.dead_letters()
    redriven = queue.redrive()
    [again] = queue.receive(10, 0)

    assert waiting.body == "waiting"
    assert counts == QueueCounts(visible=0, in_flight=1, dead=1)
    assert (dead.body, dead.receive_count) == ("poison", MAX_RECEIVES)
    assert dead.reason == f"received {MAX_RECEIVES} times without success"
    assert redriven == 1
    assert (again.body, again.receive_count) == ("poison", 1)
    assert queue.dead_letters() == []


def test_redrive_only_the_chosen_dead_letters(tmp_path: Path) -> None:
    queue = make_queue(tmp_path / "queue.sqlite3")
    for body in ("a", "b"):
        queue.send(body)
    for delivery in queue.receive(10, 0):
        queue.dead_letter(delivery, f"bad {delivery.body}")
    chosen = next(d for d in queue.dead_letters() if d.body == "b")

    assert queue.redrive([chosen.id]) == 1
    assert [d.body for d in queue.dead_letters()] == ["a"]
    assert [d.body for d in queue.receive(10, 0)] == ["b"]


def test_creates_directories_and_wal_schema_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "queue.sqlite3"
    first = make_queue(path)
    first.send("durable")
    first.close()

    second = make_queue(path)
    delivered = second.receive(1, 0)
    with sqlite3.connect(path) as db:
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    second.close()

    assert [d.body for d in delivered] == ["durable"]
    assert mode == "wal"


def test_unwritable_location_raises_queue_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")
    queue = make_queue(blocker / "queue.sqlite3")

    with pytest.raises(QueueUnavailable):
        queue.send("job")


@pytest.mark.parametrize(("visibility_timeout", "max_receives"), [(0, 1), (1, 0)])
def test_rejects_nonsense_limits(
    tmp_path: Path, visibility_timeout: int, max_receives: int
) -> None:
    with pytest.raises(ValueError, match="positive"):
        SqliteQueue(
            tmp_path / "q.sqlite3",
            visibility_timeout=visibility_timeout,
            max_receives=max_receives,
        )
