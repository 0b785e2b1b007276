"""Wake-ups between processes on one machine: "look at the queue now", nothing more.

Each waiting receive binds a datagram socket in a directory beside the queue's database;
a sender, once its commit is durable, sends one empty datagram to every socket there. A
datagram carries no data the receiver trusts: it only cuts the receiver's sleep short,
and the receiver then reads the database as it would have anyway. So anything lost here
(a full socket buffer, a receiver that is not listening yet, a directory that cannot be
made) costs only the receiver's next re-check, and every failure is ignored.

A socket may be bound under a topic (an image id, say); a sender naming that topic wakes
only those, one naming none wakes every socket in the directory.

Socket addresses are limited to 108 bytes, which a database path in a deep directory
exceeds; each socket is named through ``/proc/self/fd/<directory descriptor>/`` instead,
which the kernel resolves to the same directory whatever its path.
"""

import contextlib
import math
import os
import secrets
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

_SUFFIX = ".sock"
# Between a socket's topic and the rest of its name; never part of a topic.
_TOPIC_END = "~"


class WakeupListener:
    """One bound socket that a receive sleeps on between looks at the database."""

    def __init__(self, sock: socket.socket | None) -> None:
        self._socket = sock

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, less if a wake-up arrives; swallow what arrived."""
        if self._socket is None:
            time.sleep(max(0.0, seconds))
            return
        # poll, not select: a server holding thousands of connections numbers this socket
        # past the 1,024 descriptors select() can watch.
        poller = select.poll()
        poller.register(self._socket, select.POLLIN)
        if poller.poll(max(0, math.ceil(seconds * 1000))):
            # Several sends may have landed while we looked; one look covers them all.
            with contextlib.suppress(BlockingIOError):
                while True:
                    self._socket.recv(1)


class WakeupChannel:
    """The wake-up directory of one queue: ``listening`` for receivers, ``notify`` for senders.

    Safe for many threads; after a fork the child opens its own descriptors.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._pid = 0
        self._directory_fd = -1
        self._sender: socket.socket | None = None

    @contextlib.contextmanager
    def listening(self, topic: str = "") -> Iterator[WakeupListener]:
        """A socket bound in the directory for the duration (a plain sleep if that fails),
        woken by a ``notify`` of ``topic`` or of every topic."""
        if _TOPIC_END in topic or "/" in topic:
            raise ValueError(f"a wake-up topic holds no {_TOPIC_END!r} or '/': {topic!r}")
        name = f"{topic}{_TOPIC_END}{os.getpid()}-{secrets.token_hex(6)}{_SUFFIX}"
        sock = self._bound(name)
        try:
            yield WakeupListener(sock)
        finally:
            if sock is not None:
                sock.close()
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=self._descriptor())

    def notify(self, topic: str | None = None) -> None:
        """Wake every socket listening now on ``topic`` (None: on any); removes sockets
        nobody listens on any more."""
        prefix = "" if topic is None else f"{topic}{_TOPIC_END}"
        try:
            directory_fd = self._descriptor()
            names = [
                name
                for name in os.listdir(directory_fd)
                if name.endswith(_SUFFIX) and name.startswith(prefix)
            ]
        except OSError:
            return
        sender = self._sending_socket()
        for name in names:
            try:
                sender.sendto(b"", self._address(name))
            except (ConnectionRefusedError, FileNotFoundError):
                # Left by a process that died while listening.
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=directory_fd)
            except OSError:
                pass  # e.g. its buffer is full: it has a wake-up pending already

    def _bound(self, name: str) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind(self._address(name))
        except OSError:
            sock.close()
            return None
        return sock

    def _address(self, name: str) -> str:
        return f"/proc/self/fd/{self._descriptor()}/{name}"

    def _descriptor(self) -> int:
        with self._lock:
            if self._pid != os.getpid():
                self._directory.mkdir(parents=True, exist_ok=True)
                self._directory_fd = os.open(self._directory, os.O_RDONLY | os.O_DIRECTORY)
                self._sender = None
                self._pid = os.getpid()
            return self._directory_fd

    def _sending_socket(self) -> socket.socket:
        with self._lock:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            return self._sender
