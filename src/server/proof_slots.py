"""A per-process bound on the door's costly decode proofs (HEIF and AVIF).

Proving that a phone photo decodes is a full decode by its codec: a CPU-heavy step on a
request thread, where a JPEG's proof is nearly free. Unbounded, a flood of such uploads
takes every thread and core of a process, and its health check and cheap requests wait
behind them. So a process runs at most ``SHARER_COSTLY_PROOFS_PER_PROCESS`` of them at
once. A few more may wait a moment for a slot (``ServerSettings.costly_proof_waiters``: as many
as run, while a thread stays free for cheap requests), so a person sending a handful of
photos at once is not refused; any upload beyond those is refused at once with a 503 and
``Retry-After`` (``ProofsBusy``), since each waiting upload holds a thread.

The bound is a semaphore of the process, shared by whatever threads serve its requests,
so it holds under any threaded worker.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# What a refused upload is told to wait: a proof ends in well under a second.
PROOFS_RETRY_AFTER_SECONDS = 1
# The longest an admitted upload waits for a slot: the length of a proof or two.
PROOF_WAIT_SECONDS = 2.0


class ProofsBusy(Exception):
    """Every costly-proof slot of this process is taken; retry after ``retry_after``."""

    def __init__(self, slots: int) -> None:
        super().__init__(f"all {slots} costly-proof slots of this process are busy")
        self.slots = slots
        self.retry_after = PROOFS_RETRY_AFTER_SECONDS


class ProofSlots:
    """At most ``slots`` costly proofs at once in this process, and ``waiters`` more
    waiting up to ``wait_seconds`` for a slot; safe for its threads."""

    def __init__(
        self, slots: int, *, waiters: int = 0, wait_seconds: float = PROOF_WAIT_SECONDS
    ) -> None:
        if slots < 1 or waiters < 0:
            raise ValueError("slots must be at least 1, waiters at least 0")
        self._slots = slots
        self._wait_seconds = wait_seconds
        self._admitted = threading.BoundedSemaphore(slots + waiters)
        self._running = threading.BoundedSemaphore(slots)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold one slot for the block; raise ``ProofsBusy`` at once when every slot and
        waiting place is taken, or once the wait for a slot runs out."""
        if not self._admitted.acquire(blocking=False):
            raise ProofsBusy(self._slots)
        try:
            if not self._running.acquire(timeout=self._wait_seconds):
                raise ProofsBusy(self._slots)
            try:
                yield
            finally:
                self._running.release()
        finally:
            self._admitted.release()
