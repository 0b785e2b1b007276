"""A per-process bound on the door's costly decode proofs (HEIF and AVIF).

Proving that a phone photo decodes is a full decode by its codec: a CPU-heavy step on a
request thread, where a JPEG's proof is nearly free. Unbounded, a flood of such uploads
takes every thread and core of a process, and its health check and cheap requests wait
behind them. So a process runs at most ``SHARER_COSTLY_PROOFS_PER_PROCESS`` of them at
once; an upload beyond the bound is refused at once with a 503 and ``Retry-After``
(``ProofsBusy``) rather than queued, since a queued upload would hold a thread too.

The bound is a semaphore of the process, shared by whatever threads serve its requests,
so it holds under any threaded worker.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# What a refused upload is told to wait: a proof ends in well under a second.
PROOFS_RETRY_AFTER_SECONDS = 1


class ProofsBusy(Exception):
    """Every costly-proof slot of this process is taken; retry after ``retry_after``."""

    def __init__(self, slots: int) -> None:
        super().__init__(f"all {slots} costly-proof slots of this process are busy")
        self.slots = slots
        self.retry_after = PROOFS_RETRY_AFTER_SECONDS


class ProofSlots:
    """At most ``slots`` costly proofs at once in this process; safe for its threads."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self._slots = slots
        self._free = threading.BoundedSemaphore(slots)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold one slot for the block, or raise ``ProofsBusy`` at once if none is free."""
        if not self._free.acquire(blocking=False):
            raise ProofsBusy(self._slots)
        try:
            yield
        finally:
            self._free.release()
