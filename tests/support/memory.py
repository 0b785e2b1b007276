"""Memory of the real processes, from /proc: ``process_memory`` gives VmRSS and VmHWM of
a process and its children (``descendants``); ``memory_of`` does so for every process of
a running ``Service``."""

import os
from dataclasses import dataclass
from pathlib import Path

from support.services import Service


@dataclass(frozen=True)
class Memory:
    """Resident memory of one process now (VmRSS) and at its peak so far (VmHWM), in KiB."""

    pid: int
    rss_kib: int
    peak_kib: int


def process_memory(pid: int) -> list[Memory]:
    """Memory of ``pid`` and of every live descendant (gunicorn's workers, say)."""
    return [m for p in [pid, *descendants(pid)] if (m := _memory(p)) is not None]


def _memory(pid: int) -> Memory | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None  # it exited between listing and reading
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    if "VmRSS" not in fields:
        return None  # a zombie has no memory left to report
    return Memory(pid, int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0]))


def descendants(pid: int) -> list[int]:
    """Every live process whose parent chain leads to ``pid`` (found by scanning /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # The command name may hold spaces and parentheses; fields resume after the last ")".
        ppid = int(stat.rpartition(")")[2].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found.extend(children)
        frontier.extend(children)
    return found


@dataclass(frozen=True)
class ServiceMemory:
    """Memory of the server (gunicorn's master and workers) and of each live worker."""

    server: list[Memory]
    workers: list[Memory]

    def describe(self) -> str:
        """One line: current/peak RSS in MiB per process."""

        def mib(ms: list[Memory]) -> str:
            return " ".join(f"{m.rss_kib / 1024:.0f}/{m.peak_kib / 1024:.0f}" for m in ms)

        return f"server [{mib(self.server)}] workers [{mib(self.workers)}] (RSS/peak MiB)"


def memory_of(service: Service) -> ServiceMemory:
    """Read /proc for every process of ``service`` that is still running."""
    assert service.server is not None
    workers = [w for w in service.workers if w.poll() is None]
    return ServiceMemory(
        server=process_memory(service.server.pid),
        workers=[m for w in workers for m in process_memory(w.pid)],
    )
