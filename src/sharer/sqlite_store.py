"""SQLite for the small shared records of several processes on one machine (API keys and
quota counters): one connection per call, and writes that take the lock at once."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Longer than any writer holds the lock (a few statements), so a busy database waits.
BUSY_TIMEOUT_SECONDS = 10.0


class SqliteStoreUnavailable(RuntimeError):
    """The database could not be opened, read or written."""


@contextmanager
def sqlite_transaction(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    """A write transaction on ``path`` (created with ``schema`` if new), committed on
    leaving, rolled back on an error; SQLite's errors become ``SqliteStoreUnavailable``.

    ``BEGIN IMMEDIATE`` takes the write lock before the first read, so a read-then-write
    (a quota check, a key created only if its name is free) is atomic across processes.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise SqliteStoreUnavailable(f"cannot open {path}: {exc}") from exc
    try:
        db.executescript(schema)
        db.execute("BEGIN IMMEDIATE")
        yield db
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise SqliteStoreUnavailable(f"{path}: {exc}") from exc
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()
