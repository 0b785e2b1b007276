"""The worker's memory budget: a job reserves its decode cost before it decodes.

Jobs on the thread pool would otherwise decode at once whatever they were handed, and a
few 50 MP originals together exceed a small instance's memory. Each job states its cost
(``worker.thumbnails.decode_cost``, from the header) and waits, in arrival order, until
that much of the budget is free. A job costing more than the whole budget waits until
nothing else runs and then runs alone: refusing it would fail an image the server
accepted.
"""

import ctypes
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_BYTES_PER_MB = 1024 * 1024
# glibc's mallopt parameter for the size from which allocations are mapped on their own.
_M_MMAP_THRESHOLD = -3
# Pillow holds pixels in blocks of up to 16 MB; every block from this size up is mapped.
_MAPPED_FROM_BYTES = 1024 * 1024


class MemoryBudget:
    """``total_bytes`` shared by the jobs of one process; safe for many threads."""

    def __init__(self, total_bytes: int) -> None:
        if total_bytes < 1:
            raise ValueError("a memory budget must be at least one byte")
        self.total_bytes = total_bytes
        self._in_use = 0
        self._waiting: deque[object] = deque()
        self._changed = threading.Condition()

    @property
    def in_use(self) -> int:
        """Bytes reserved by running jobs right now."""
        with self._changed:
            return self._in_use

    @contextmanager
    def reserved(self, cost: int) -> Iterator[None]:
        """Hold ``cost`` bytes (at most the whole budget) for the duration; wait for them
        first, behind every job that asked earlier."""
        share = max(0, min(cost, self.total_bytes))
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
            # In arrival order, so a large job is not passed for ever by small ones.
            self._changed.wait_for(
                lambda: self._waiting[0] is ticket and self._in_use + share <= self.total_bytes
            )
            self._waiting.popleft()
            self._in_use += share
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._in_use -= share
                self._changed.notify_all()


def job_budget(budget_mb: int) -> MemoryBudget:
    """The part of a ``budget_mb`` peak that jobs may reserve: what the process does not
    already hold (its resident set now, libraries and interpreter included)."""
    return MemoryBudget(max(1, budget_mb * _BYTES_PER_MB - resident_bytes()))


def resident_bytes() -> int:
    """This process's resident set size (VmRSS) in bytes; 0 where /proc has none."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def return_freed_pixels_promptly() -> bool:
    """Have glibc map every large allocation on its own, so freed pixels leave the process.

    By default glibc raises its mapping threshold each time a mapped block is freed, after
    which Pillow's blocks come from per-thread heaps that keep freed memory: a job on a
    second thread then grows the process by its whole cost again, though the first job's
    reservation was released. A fixed threshold keeps the peak at what is reserved.
    Returns False where the C library has no ``mallopt`` (not glibc).
    """
    # The process's own symbols include the C library's (find_library would run ldconfig).
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MAPPED_FROM_BYTES))


def return_freed_memory() -> None:
    """Hand the memory a finished job freed back to the system (glibc's ``malloc_trim``).

    The mapping threshold above covers large blocks only: an animation's smaller frames
    (the medium and small thumbnails, libwebp's buffers) come from the heap of the
    thread that made them, which keeps them once freed, and the next job, on another
    thread, grows another heap by as much. Trimming before the job's reservation is
    released keeps the peak at what is reserved. Nothing happens where the C library
    has no ``malloc_trim`` (not glibc).
    """
    malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if malloc_trim is not None:
        malloc_trim(0)
