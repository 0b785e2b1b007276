"""Object storage in a local directory (``file:///abs/dir``), for a single machine.

Each object is one file at ``<root>/<key>``: a magic line, a one-line JSON header
(content type, etag, cache control), then the body. Keeping metadata and body in one
file means one ``os.replace`` publishes both together: a reader sees the old object or
the new one, never a body paired with another write's metadata, and a crash leaves no
sidecar to reconcile. The cost is that the files are not plain images; read them through
``get`` (the server's media route does).
"""

import contextlib
import hashlib
import heapq
import json
import os
import secrets
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from sharer.storage import port
from sharer.storage.port import (
    NewObject,
    ObjectNotFound,
    Storage,
    StorageUnavailable,
    StoredObject,
)

_MAGIC = b"sharer-object/1\n"
_NOT_THERE = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalStorage(Storage):
    """Objects as files under ``root``; safe for many threads and processes at once."""

    def __init__(self, root: Path) -> None:
        if not root.is_absolute():
            raise ValueError(f"storage root must be absolute, got {root}")
        self._root = root

    @property
    def root(self) -> Path:
        """The directory holding the objects."""
        return self._root

    def put(self, key: str, body: bytes, content_type: str, *, immutable: bool = True) -> None:
        """Write atomically and durably: temp file, fsync, rename, fsync the directory."""
        self.put_all([NewObject(key, body, content_type, immutable)])

    def put_all(self, objects: Sequence[NewObject]) -> None:
        """``put`` each object, one phase at a time: all temp files are written, then
        each is fsynced, renamed in order, and each directory fsynced once. A sync finds
        little left to do after the first of its phase, so two objects cost about the
        journal commits of one (the server stores an original and its status together)."""
        self._put_all(objects, visible_first=False)

    def _put_all(self, objects: Sequence[NewObject], *, visible_first: bool) -> None:
        files = [(self._path(item.key), _encode(item)) for item in objects]
        try:
            for path, _ in files:
                path.parent.mkdir(parents=True, exist_ok=True)
            _replace_atomically(files, visible_first=visible_first)
        except OSError as exc:
            keys = ", ".join(repr(item.key) for item in objects)
            raise StorageUnavailable(f"cannot write {keys} under {self._root}: {exc}") from exc

    def put_new(self, key: str, body: bytes, content_type: str) -> None:
        """Write and sync a temp file, then ``os.link`` it to the key's name: a link
        never replaces an existing file, so the first writer wins and readers see the
        whole object or none."""
        path = self._path(key)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
        data = _encode(NewObject(key, body, content_type, immutable=False))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                _write_all(descriptor, data)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            try:
                os.link(temp, path)
            except FileExistsError:
                raise port.ObjectExists(key) from None
            _sync_directory(path.parent)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create {key!r} under {self._root}: {exc}") from exc
        finally:
            with contextlib.suppress(*_NOT_THERE):  # the link, if any, holds the object
                temp.unlink()

    def put_all_regenerable(self, objects: Sequence[NewObject]) -> None:
        """``put_all``, but each file is renamed into place before the syncs, so readers
        see the objects a few journal commits sooner; all are synced when it returns."""
        self._put_all(objects, visible_first=True)

    def get(self, key: str) -> StoredObject:
        """Read the object; its metadata always belongs to the body returned."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except _NOT_THERE as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key!r} under {self._root}: {exc}") from exc
        return _decode(key, data)

    def exists(self, key: str) -> bool:
        """Whether the object's file is there (missing as ``get`` would say it is)."""
        path = self._path(key)
        try:
            return stat.S_ISREG(path.stat().st_mode)
        except _NOT_THERE:
            return False
        except OSError as exc:
            raise StorageUnavailable(f"cannot look up {key!r} under {self._root}: {exc}") from exc

    def delete(self, key: str) -> None:
        """Remove the object's file; a missing one is fine."""
        path = self._path(key)
        try:
            path.unlink()
        except _NOT_THERE:
            return
        except OSError as exc:
            raise StorageUnavailable(f"cannot delete {key!r} under {self._root}: {exc}") from exc

    def list_keys(self, prefix: str, *, limit: int, start_after: str = "") -> list[port.ListedKey]:
        """The files of the prefix's directory, skipping temp files and subdirectories."""
        port.validate_prefix(prefix)
        directory = self._root / prefix
        try:
            with os.scandir(directory) as entries:
                # nsmallest keeps at most ``limit`` names in memory, however many there are.
                first = heapq.nsmallest(
                    limit,
                    (
                        e
                        for e in entries
                        if not e.name.startswith(".")
                        and prefix + e.name > start_after
                        and e.is_file()
                    ),
                    key=lambda e: e.name,
                )
                return [port.ListedKey(prefix + e.name, e.stat().st_mtime) for e in first]
        except FileNotFoundError:  # nothing was ever stored under the prefix
            return []
        except OSError as exc:
            raise StorageUnavailable(f"cannot list {prefix!r} under {self._root}: {exc}") from exc

    def check(self) -> None:
        """Make sure the root exists and a file can be written there."""
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            probe = self._root / f".check-{secrets.token_hex(8)}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageUnavailable(f"storage root {self._root} is not usable: {exc}") from exc

    def _path(self, key: str) -> Path:
        port.validate_key(key)
        return self._root / key


def _encode(item: NewObject) -> bytes:
    header = {
        "content_type": item.content_type,
        "etag": _etag(item.body),
        "cache_control": port.IMMUTABLE_CACHE_CONTROL if item.immutable else None,
    }
    return _MAGIC + json.dumps(header).encode() + b"\n" + item.body


def _etag(body: bytes) -> str:
    # The quoted MD5 is what S3 returns for a single-part put, so ETags look alike on
    # both backends and can go straight into an HTTP ETag header.
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def _replace_atomically(files: Sequence[tuple[Path, bytes]], *, visible_first: bool) -> None:
    """Publish each (path, data) atomically; durably once this returns. Each file is
    synced before its rename, or with ``visible_first`` after all the renames."""
    # Hidden, unique temp names in the target directories: never a valid key, never
    # shared by two writers, and on the same filesystem so os.replace is atomic.
    temps = [p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp") for p, _ in files]
    descriptors: list[int] = []
    try:
        try:
            for temp, (_, data) in zip(temps, files, strict=True):
                descriptors.append(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                _write_all(descriptors[-1], data)
            if not visible_first:
                _sync_each(descriptors)
            for temp, (path, _) in zip(temps, files, strict=True):
                os.replace(temp, path)
            if visible_first:
                _sync_each(descriptors)
        finally:
            for descriptor in descriptors:
                os.close(descriptor)
    except BaseException:
        for temp in temps:  # those already renamed are gone
            temp.unlink(missing_ok=True)
        raise
    # A rename is durable only once the directory entry itself is on disk.
    for directory in dict.fromkeys(path.parent for path, _ in files):
        _sync_directory(directory)


def _sync_directory(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _sync_each(descriptors: Iterable[int]) -> None:
    for descriptor in descriptors:
        os.fsync(descriptor)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _decode(key: str, data: bytes) -> StoredObject:
    header_end = data.find(b"\n", len(_MAGIC))
    if not data.startswith(_MAGIC) or header_end < 0:
        raise StorageUnavailable(f"{key!r} is not an object written by LocalStorage")
    try:
        header = json.loads(data[len(_MAGIC) : header_end])
        return StoredObject(
            body=data[header_end + 1 :],
            content_type=str(header["content_type"]),
            etag=str(header["etag"]),
            cache_control=header["cache_control"],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise StorageUnavailable(f"{key!r} has a corrupt header: {exc}") from exc
