"""Telling the server's waiting requests that an image's status record has changed.

A ``GET`` that prefers to wait for a pending image (``Prefer: wait=N``) sleeps until the
image's status record may have changed, then reads it again. The record stays the only
truth: a wake-up carries nothing but "look now", so a lost one costs a re-check interval.

- ``DatagramStatusWakeups`` (every process on one machine, the SQLite queue's case): the
  worker, once it has recorded a job's end, and the server, once it has deleted an
  image, send a datagram to the requests waiting on that image (``sharer.queues.wakeup``).
- ``RecheckingStatusWakeups`` (AWS: no datagrams between machines): nothing is sent, and
  a waiting request re-reads the record at a modest interval.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from sharer.queues.wakeup import WakeupChannel, WakeupListener

# A wake-up may be lost (a full buffer, a socket bound a moment late): the record is
# read again this often anyway.
DATAGRAM_RECHECK_SECONDS = 0.25
# With nothing to wake it, a waiting request reads the record (an S3 GET) this often.
UNSIGNALLED_RECHECK_SECONDS = 0.5


class StatusListener(Protocol):
    """What a waiting request sleeps on between reads of the status record."""

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, less if the record may have changed."""


class StatusWakeups(Protocol):
    """Wake-ups about one image's status record, between its writers and its waiters."""

    @property
    def recheck_seconds(self) -> float:
        """The longest a waiter sleeps between two reads of the record."""

    def listening(self, image_id: str) -> contextlib.AbstractContextManager[StatusListener]:
        """Listen for changes to ``image_id``'s record; enter it before the first read."""

    def notify(self, image_id: str) -> None:
        """Wake whoever waits on ``image_id``; call after the record's write is durable."""


class DatagramStatusWakeups:
    """Wake-ups through the datagram sockets of ``directory`` (one machine)."""

    recheck_seconds = DATAGRAM_RECHECK_SECONDS

    def __init__(self, directory: Path) -> None:
        self._channel = WakeupChannel(directory)

    def listening(self, image_id: str) -> contextlib.AbstractContextManager[StatusListener]:
        """A socket bound under ``image_id`` while the request waits."""
        return self._channel.listening(image_id)

    def notify(self, image_id: str) -> None:
        """One datagram to each request waiting on ``image_id``; failures are ignored."""
        self._channel.notify(image_id)


class RecheckingStatusWakeups:
    """No wake-ups at all: a waiter sleeps its re-check interval between reads."""

    recheck_seconds = UNSIGNALLED_RECHECK_SECONDS

    @contextlib.contextmanager
    def listening(self, image_id: str) -> Iterator[StatusListener]:
        """A plain sleep, whatever ``image_id``."""
        yield WakeupListener(None)

    def notify(self, image_id: str) -> None:
        """Nothing to send: waiters find the change at their next re-check."""
