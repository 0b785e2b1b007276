"""The Storage port: what the server and worker need from an object store."""

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Image objects never change once written, so any cache may keep them for a year.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"

# An allow-list rather than a deny-list: nothing but plain names can reach a store.
# Segments may not start with "." so "..", hidden files and temp files are all out.
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}")
MAX_KEY_LENGTH = 1024  # S3's limit


def validate_key(key: str) -> None:
    """Raise ``ValueError`` unless ``key`` is relative segments of ``[A-Za-z0-9_.-]``.

    Every adapter checks its keys with this before any I/O, so a key is valid on all
    stores or on none, and code that takes keys from outside (job messages, URLs) can
    refuse a bad one up front.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"storage key must be 1..{MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if _SEGMENT.fullmatch(segment) is None:
            raise ValueError(f"storage key {key!r} has a bad segment {segment!r}")


def validate_prefix(prefix: str) -> None:
    """Raise ``ValueError`` unless ``prefix`` is valid key segments followed by ``/``."""
    if not prefix.endswith("/"):
        raise ValueError(f"a listed prefix must end with '/', not {prefix!r}")
    validate_key(prefix[:-1])


class ObjectNotFound(KeyError):
    """No object at that key (yet)."""


class ObjectExists(Exception):
    """``put_new`` found an object at the key already: another writer created it first."""


class StorageUnavailable(RuntimeError):
    """The store could not be reached or refused the operation; worth retrying later."""


@dataclass(frozen=True)
class StoredObject:
    """An object's bytes with the metadata it was written with."""

    body: bytes
    content_type: str
    etag: str
    # IMMUTABLE_CACHE_CONTROL for objects put with immutable=True, else None.
    cache_control: str | None = None


@dataclass(frozen=True)
class ListedKey:
    """One key found by ``Storage.list_keys``, with the POSIX time of its last write."""

    key: str
    modified: float


@dataclass(frozen=True)
class NewObject:
    """One object to store with ``Storage.put_all``: ``put``'s arguments, and tags.

    ``tags`` are for the object store's own rules (the bucket's lifecycle backstop for
    expiring images, ``sharer.expiry``); a store without such rules ignores them, and
    nobody reads them back.
    """

    key: str
    body: bytes
    content_type: str
    immutable: bool = True
    tags: Mapping[str, str] | None = None


class Storage(ABC):
    """A flat key -> object store. Writes are atomic: readers see all of an object or none.

    Every method raises ``StorageUnavailable`` when the backend fails.
    """

    @abstractmethod
    def put(self, key: str, body: bytes, content_type: str, *, immutable: bool = True) -> None:
        """Store ``body`` at ``key``; immutable objects carry the year-long Cache-Control."""

    @abstractmethod
    def put_new(self, key: str, body: bytes, content_type: str) -> None:
        """Create a mutable object at ``key`` only if there is none: of two writers racing
        for one key exactly one succeeds; the other gets ``ObjectExists``, whichever
        process or server it runs in. Durable once it returns, as ``put``."""

    def put_all(self, objects: Sequence[NewObject]) -> None:
        """Store each object as ``put`` would, in order; all are stored when it returns.

        An adapter may share work between them (the local one syncs each phase once).
        If it raises, any of them may or may not have been stored.
        """
        for item in objects:
            self.put(item.key, item.body, item.content_type, immutable=item.immutable)

    def put_all_regenerable(self, objects: Sequence[NewObject]) -> None:
        """``put_all`` for objects that can be made again (a job's thumbnails): any may be
        readable before all are durable; all are durable when it returns.

        Whoever relies on their durability (the job's status, its message's delete) acts
        only after the return, so a crash before it means the job is redone. An adapter
        may publish first and sync after (the local one does); by default it is
        ``put_all``.
        """
        self.put_all(objects)

    @abstractmethod
    def get(self, key: str) -> StoredObject:
        """Return the object at ``key``; raise ``ObjectNotFound`` if there is none."""

    def exists(self, key: str) -> bool:
        """Whether there is an object at ``key``.

        For keys that are usually missing (tombstones): on S3 a GET of a missing key is
        a 404 only for a role that may list the whole bucket (403 otherwise), so the S3
        adapter lists the key's own name instead, which a policy can allow per prefix.
        """
        try:
            self.get(key)
        except ObjectNotFound:
            return False
        return True

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object at ``key``; removing a missing key is not an error."""

    def delete_all(self, keys: Sequence[str]) -> None:
        """Remove every object of ``keys`` as ``delete`` would; all are gone when it returns.

        Every key is checked first, so a bad one removes nothing. An adapter may remove
        them in one request (S3 does). If it raises otherwise, any of them may or may not
        have been removed.
        """
        for key in keys:
            validate_key(key)
        for key in keys:
            self.delete(key)

    @abstractmethod
    def list_keys(self, prefix: str, *, limit: int, start_after: str = "") -> list[ListedKey]:
        """The first ``limit`` keys directly under ``prefix`` (which ends with ``/``), in
        key order, after the key ``start_after`` (the last of the previous page). Only the
        reconciler lists, and only its own small prefix: on AWS no role may list the rest
        of the bucket."""

    @abstractmethod
    def check(self) -> None:
        """Raise ``StorageUnavailable`` unless the store is reachable and usable."""
