"""The SQLite queue's group commit and wake-ups: shared commits, every send durable and in
order, a send waking a waiting receive at once, a lost wake-up costing only the re-check."""

import multiprocessing
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from contract.cases import MAX_RECEIVES, VISIBILITY_TIMEOUT
from sharer.queues import sqlite as sqlite_queue
from sharer.queues.sqlite import SqliteQueue

SENDERS = 8
SENDS_EACH = 25
# Far longer than any wait below: a receive that sleeps it out fails the test.
LONG_RECHECK_SECONDS = 30.0
RECEIVE_WAIT_SECONDS = 10.0
# Generous bounds for "at once" on a loaded machine, well below the waits they rule out.
PROMPT_SECONDS = 3.0


def make_queue(path: Path) -> SqliteQueue:
    """A queue on ``path`` with the contract suite's limits."""
    return SqliteQueue(path, visibility_timeout=VISIBILITY_TIMEOUT, max_receives=MAX_RECEIVES)


def rows(path: Path) -> list[tuple[int, str, float]]:
    """Every message row (id, body, created_at) read through a connection of our own."""
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, body, created_at FROM messages ORDER BY id").fetchall()


def test_sends_waiting_for_the_write_lock_share_one_commit(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    queue = make_queue(path)
    queue.check()
    # Another process's writer holds the lock, so every send piles up behind it.
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    senders = [threading.Thread(target=queue.send, args=(f"job-{n}",)) for n in range(SENDERS)]
    for sender in senders:
        sender.start()
    time.sleep(0.5)
    blocker.execute("COMMIT")
    blocker.close()
    for sender in senders:
        sender.join(timeout=30)

    stored = rows(path)
    assert sorted(body for _, body, _ in stored) == sorted(f"job-{n}" for n in range(SENDERS))
    # One transaction stamps its rows with one time; without sharing there would be 8.
    assert len({created for _, _, created in stored}) <= 2


def test_concurrent_sends_are_each_durable_on_return_and_in_call_order(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    queue = make_queue(path)
    missing: list[str] = []

    def send_all(sender: int) -> None:
        with sqlite3.connect(path) as reader:
            for n in range(SENDS_EACH):
                body = f"{sender}-{n}"
                queue.send(body)
                # Committed before send returned: another connection already sees it.
                found = reader.execute("SELECT 1 FROM messages WHERE body = ?", (body,))
                if found.fetchone() is None:
                    missing.append(body)

    threads = [threading.Thread(target=send_all, args=(s,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    stored = rows(path)
    assert missing == []
    assert len(stored) == 4 * SENDS_EACH
    for sender in range(4):
        mine = [body for _, body, _ in stored if body.startswith(f"{sender}-")]
        assert mine == [f"{sender}-{n}" for n in range(SENDS_EACH)]
    delivered = queue.receive(10, 0)
    assert [d.body for d in delivered] == [body for _, body, _ in stored[:10]]


def waiting_receive(
    queue: SqliteQueue,
) -> tuple[threading.Thread, list[tuple[list[str], float]]]:
    """A started thread waiting in one receive; it leaves (bodies, when received)."""
    result: list[tuple[list[str], float]] = []

    def receive() -> None:
        deliveries = queue.receive(1, RECEIVE_WAIT_SECONDS)
        result.append(([d.body for d in deliveries], time.monotonic()))

    receiver = threading.Thread(target=receive)
    receiver.start()
    return receiver, result


def send_one(path: Path, body: str) -> None:
    """A sender process: one send on its own queue instance."""
    make_queue(path).send(body)


def test_a_send_from_another_process_wakes_a_waiting_receive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_queue, "RECHECK_SECONDS", LONG_RECHECK_SECONDS)
    path = tmp_path / "queue.sqlite3"
    queue = make_queue(path)
    queue.check()
    context = multiprocessing.get_context("spawn")
    sender = context.Process(target=send_one, args=(path, "wake"))
    receiver, result = waiting_receive(queue)
    time.sleep(0.3)  # the receive has looked once and sleeps
    sender.start()
    sender.join(timeout=30)
    sent = time.monotonic()
    receiver.join(timeout=RECEIVE_WAIT_SECONDS + 5)

    assert sender.exitcode == 0
    [(bodies, received)] = result
    assert bodies == ["wake"]
    assert received - sent < PROMPT_SECONDS


def test_a_message_with_no_wake_up_is_found_by_the_recheck(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    queue = make_queue(path)
    queue.check()
    receiver, result = waiting_receive(queue)
    time.sleep(0.3)
    # Written behind the queue's back: nobody sends a wake-up.
    with sqlite3.connect(path) as db:
        now = time.time()
        db.execute(
            "INSERT INTO messages (body, visible_at, created_at) VALUES ('quiet', ?, ?)",
            (now, now),
        )
    inserted = time.monotonic()
    receiver.join(timeout=RECEIVE_WAIT_SECONDS + 5)

    [(bodies, received)] = result
    assert bodies == ["quiet"]
    assert received - inserted < sqlite_queue.RECHECK_SECONDS + PROMPT_SECONDS


def test_a_listener_left_by_a_dead_process_is_removed_by_the_next_send(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    queue = make_queue(path)
    wake_dir = tmp_path / "queue.sqlite3.wake"
    wake_dir.mkdir()
    directory = os.open(wake_dir, os.O_RDONLY | os.O_DIRECTORY)
    left = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    # Through the descriptor: a deep tmp_path is longer than a socket address may be.
    left.bind(f"/proc/self/fd/{directory}/999999-dead.sock")
    left.close()  # the file stays, as after a crash
    os.close(directory)

    queue.send("job")

    assert list(wake_dir.iterdir()) == []
    assert [d.body for d in queue.receive(1, 0)] == ["job"]


def test_receives_and_deletes_commit_unsynced_and_every_send_synced(tmp_path: Path) -> None:
    queue = make_queue(tmp_path / "queue.sqlite3")
    queue.send("first")
    statements: list[str] = []
    queue._connect().set_trace_callback(statements.append)

    [delivery] = queue.receive(1, 0)
    queue.delete(delivery.receipt)
    queue.send("second")

    def level_before(marker: str) -> str:
        index = next(i for i, s in enumerate(statements) if s.startswith(marker))
        return [s for s in statements[:index] if s.startswith("PRAGMA synchronous")][-1]

    # A lost receive or delete only redelivers; a lost send would break the 202's promise.
    assert level_before("UPDATE messages SET receive_count") == "PRAGMA synchronous=NORMAL"
    assert level_before("DELETE FROM messages WHERE receipt") == "PRAGMA synchronous=NORMAL"
    assert level_before("INSERT INTO messages") == "PRAGMA synchronous=FULL"
