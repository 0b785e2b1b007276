"""A work queue in one SQLite file (``sqlite:///abs/path.sqlite3``), for a single machine.

It behaves like SQS with a redrive policy: a received message is hidden for the
visibility timeout and comes back if not deleted; once it has been received
``max_receives`` times, the next receive moves it to the dead-letter table instead.

Every operation is one short transaction on a WAL database; those that take or change
messages start with ``BEGIN IMMEDIATE`` so two processes never take the same message.
Each delivery gets a fresh random receipt. A stale receipt (the message was redelivered
to someone else, or is gone) matches no row, so ``delete``, ``change_visibility`` and
``dead_letter`` with it do nothing: the current holder keeps the message, and like SQS
the caller is not told.

Concurrent sends of one process share a commit (group commit): whichever thread gets the
connection inserts every send waiting at that moment in one transaction, so one fsync
serves them all. A waiting receive is woken by the sender through a datagram socket (see
``sharer.queues.wakeup``); the database stays the only source of truth, and a receive
still re-checks it every ``RECHECK_SECONDS``, so a lost wake-up costs at most that.

Commits are fsynced (a send survives power loss, as the server's 202 promises) except a
receive's and a delete's: losing one of those in a crash only delivers a message again,
which at-least-once allows.
"""

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from sharer.queues.port import Delivery, Queue, QueueUnavailable
from sharer.queues.wakeup import WakeupChannel

# How often an empty receive looks again for a message, within its wait, even without a
# wake-up: it bounds what a lost wake-up costs and finds messages whose hiding ended.
RECHECK_SECONDS = 0.05
_BUSY_TIMEOUT_SECONDS = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT UNIQUE,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_visible_at ON messages (visible_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    created_at REAL NOT NULL,
    moved_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class QueueCounts:
    """How many messages wait, are being worked on, and are dead."""

    visible: int
    in_flight: int
    dead: int


@dataclass
class _PendingSend:
    """One ``send`` waiting for a commit; whoever commits it fills in the outcome."""

    body: str
    committed: bool = False
    error: QueueUnavailable | None = None


@dataclass(frozen=True)
class DeadLetter:
    """A message moved aside, with why and after how many receives."""

    id: int
    body: str
    reason: str
    receive_count: int
    moved_at: float


class SqliteQueue(Queue):
    """The Queue port on SQLite; safe for many threads and processes on one machine."""

    def __init__(self, path: Path, *, visibility_timeout: int, max_receives: int) -> None:
        if visibility_timeout <= 0 or max_receives <= 0:
            raise ValueError("visibility_timeout and max_receives must be positive")
        self._path = path
        self._visibility_timeout = visibility_timeout
        self._max_receives = max_receives
        # One connection per process, shared by its threads under a lock: SQLite
        # serialises writers anyway, and after a fork the child must not reuse the
        # parent's connection, so it is keyed by pid.
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._connection_pid = 0
        # Sends not yet committed, in the order they were called; taken under _lock.
        self._pending_sends: list[_PendingSend] = []
        self._pending_lock = threading.Lock()
        self._wakeup = WakeupChannel(path.with_name(f"{path.name}.wake"))

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def send(self, body: str) -> None:
        """Insert the message; the commit is fsynced before this returns.

        Sends from other threads waiting at the same time go into the same commit, in
        the order they were called.
        """
        pending = _PendingSend(body)
        with self._pending_lock:
            self._pending_sends.append(pending)
        with self._lock:
            # An earlier holder of the lock may have committed this send with its own.
            if not pending.committed and pending.error is None:
                self._commit_pending_sends()
        if pending.error is not None:
            raise pending.error
        self._wakeup.notify()

    def receive(self, max_messages: int, wait_seconds: float) -> list[Delivery]:
        """Take up to ``max_messages``, waiting up to ``wait_seconds`` for the first one.

        A send wakes the wait at once; without a wake-up it re-checks every
        ``RECHECK_SECONDS``.
        """
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        deadline = time.monotonic() + max(0.0, wait_seconds)
        # Listening starts before the first look, so a send committed after that look
        # always finds this receive listening.
        with self._wakeup.listening() as listener:
            while True:
                # Idle pollers only read, so they do not queue up for the write lock.
                deliveries = self._take(max_messages) if self._any_visible() else []
                remaining = deadline - time.monotonic()
                if deliveries or remaining <= 0:
                    return deliveries
                listener.wait(min(RECHECK_SECONDS, remaining))

    def delete(self, receipt: str) -> None:
        """Remove the message held with ``receipt``; a stale receipt does nothing.

        Not synced: a delete lost in a crash only means the finished job is done again
        (same keys, same bytes), and the sync would hold the write lock that sends wait
        for.
        """
        with self._transaction(synced=False) as db:
            db.execute("DELETE FROM messages WHERE receipt = ?", (receipt,))

    def change_visibility(self, receipt: str, seconds: int) -> None:
        """Hide the message ``seconds`` from now; a stale receipt does nothing."""
        if seconds < 0:
            raise ValueError("visibility must be zero or more seconds")
        with self._transaction() as db:
            db.execute(
                "UPDATE messages SET visible_at = ? WHERE receipt = ?",
                (time.time() + seconds, receipt),
            )
        if seconds == 0:
            self._wakeup.notify()

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move the message to the dead-letter table with ``reason``."""
        with self._transaction() as db:
            now = time.time()
            db.execute(
                "INSERT INTO dead_letters (body, reason, receive_count, created_at, moved_at) "
                "SELECT body, ?, receive_count, created_at, ? FROM messages WHERE receipt = ?",
                (reason, now, delivery.receipt),
            )
            db.execute("DELETE FROM messages WHERE receipt = ?", (delivery.receipt,))

    def check(self) -> None:
        """Open (creating if needed) the database and read from both tables."""
        with self._transaction(write=False) as db:
            db.execute("SELECT 1 FROM messages LIMIT 1").fetchall()
            db.execute("SELECT 1 FROM dead_letters LIMIT 1").fetchall()

    def counts(self) -> QueueCounts:
        """Visible, in-flight and dead message counts, for operators and tests."""
        with self._transaction(write=False) as db:
            now = time.time()
            visible, in_flight = db.execute(
                "SELECT COALESCE(SUM(visible_at <= ?), 0), COALESCE(SUM(visible_at > ?), 0) "
                "FROM messages",
                (now, now),
            ).fetchone()
            (dead,) = db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()
        return QueueCounts(visible=visible, in_flight=in_flight, dead=dead)

    def oldest_age_seconds(self) -> float:
        """How long the oldest message has been in the queue (0 when it is empty), as
        SQS's ApproximateAgeOfOldestMessage says it on AWS."""
        with self._transaction(write=False) as db:
            (oldest,) = db.execute("SELECT MIN(created_at) FROM messages").fetchone()
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        with self._transaction(write=False) as db:
            rows = db.execute(
                "SELECT id, body, reason, receive_count, moved_at FROM dead_letters ORDER BY id"
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def redrive(self, ids: list[int] | None = None) -> int:
        """Put dead letters (all, or those ``ids``) back on the queue as fresh messages."""
        with self._transaction() as db:
            if ids is None:
                ids = [row[0] for row in db.execute("SELECT id FROM dead_letters ORDER BY id")]
            now = time.time()
            moved = 0
            for dead_id in ids:
                moved += db.execute(
                    "INSERT INTO messages (body, visible_at, created_at) "
                    "SELECT body, ?, created_at FROM dead_letters WHERE id = ?",
                    (now, dead_id),
                ).rowcount
                db.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,))
        if moved:
            self._wakeup.notify()
        return moved

    def close(self) -> None:
        """Close this process's connection (a later call opens a new one)."""
        with self._lock:
            if self._connection is not None and self._connection_pid == os.getpid():
                self._connection.close()
            self._connection = None

    def _commit_pending_sends(self) -> None:
        """Insert every waiting send in one transaction (caller holds ``_lock``).

        The batch is taken once the write lock is held, so sends that arrive while this
        thread waits for another process's commit join it.
        """
        batch: list[_PendingSend] = []
        try:
            with self._transaction(locked=True) as db:
                with self._pending_lock:
                    batch, self._pending_sends = self._pending_sends, []
                now = time.time()
                db.executemany(
                    "INSERT INTO messages (body, visible_at, created_at) VALUES (?, ?, ?)",
                    [(pending.body, now, now) for pending in batch],
                )
        except QueueUnavailable as exc:
            if not batch:  # the transaction never began: fail every send still waiting
                with self._pending_lock:
                    batch, self._pending_sends = self._pending_sends, []
            for pending in batch:
                pending.error = exc
            return
        for pending in batch:
            pending.committed = True

    def _any_visible(self) -> bool:
        with self._transaction(write=False) as db:
            (found,) = db.execute(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE visible_at <= ?)", (time.time(),)
            ).fetchone()
        return bool(found)

    def _take(self, max_messages: int) -> list[Delivery]:
        # Not synced: a receive lost in a crash only means the message is delivered
        # again, which at-least-once allows, and the sync would delay every job's start.
        with self._transaction(synced=False) as db:
            now = time.time()
            # Same as SQS redrive: a visible message already received max_receives times
            # is moved aside by the receive that would have delivered it once more.
            db.execute(
                "INSERT INTO dead_letters (body, reason, receive_count, created_at, moved_at) "
                "SELECT body, 'received ' || receive_count || ' times without success', "
                "receive_count, created_at, ? FROM messages "
                "WHERE visible_at <= ? AND receive_count >= ? ORDER BY id",
                (now, now, self._max_receives),
            )
            db.execute(
                "DELETE FROM messages WHERE visible_at <= ? AND receive_count >= ?",
                (now, self._max_receives),
            )
            rows = db.execute(
                "SELECT id, body, receive_count FROM messages WHERE visible_at <= ? "
                "ORDER BY visible_at, id LIMIT ?",
                (now, max_messages),
            ).fetchall()
            deliveries = []
            for message_id, body, receive_count in rows:
                receipt = secrets.token_urlsafe(24)
                db.execute(
                    "UPDATE messages SET receive_count = ?, receipt = ?, visible_at = ? "
                    "WHERE id = ?",
                    (receive_count + 1, receipt, now + self._visibility_timeout, message_id),
                )
                deliveries.append(Delivery(body, receipt, receive_count + 1))
        return deliveries

    @contextmanager
    def _transaction(
        self, *, write: bool = True, locked: bool = False, synced: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """One short transaction; any failure is ``QueueUnavailable``.

        Writers take the write lock up front (``BEGIN IMMEDIATE``): a deferred one would
        read, then fail to upgrade when another process wrote in between. ``locked``
        says the caller already holds this process's connection lock. Without
        ``synced`` the commit is not fsynced (it becomes durable with the next synced
        one, or at a checkpoint); every other transaction syncs its commit (FULL).
        """
        with nullcontext() if locked else self._lock:
            try:
                db = self._connect()
                # Set for every transaction, so no failure can leave a send unsynced.
                db.execute(f"PRAGMA synchronous={'FULL' if synced else 'NORMAL'}")
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield db
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except (sqlite3.Error, OSError) as exc:
                raise QueueUnavailable(f"SQLite queue {self._path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None and self._connection_pid == os.getpid():
            return self._connection
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            self._path,
            timeout=_BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,  # shared by this process's threads, under self._lock
        )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed send survives power loss, which the server's 202 promises.
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
        except BaseException:
            db.close()
            raise
        self._connection, self._connection_pid = db, os.getpid()
        return db
