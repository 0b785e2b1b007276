"""Object storage: the port and its adapters (local directory, S3)."""

from sharer.storage.port import (
    IMMUTABLE_CACHE_CONTROL,
    ListedKey,
    NewObject,
    ObjectExists,
    ObjectNotFound,
    Storage,
    StorageUnavailable,
    StoredObject,
    validate_key,
)

__all__ = [
    "IMMUTABLE_CACHE_CONTROL",
    "ListedKey",
    "NewObject",
    "ObjectExists",
    "ObjectNotFound",
    "Storage",
    "StorageUnavailable",
    "StoredObject",
    "validate_key",
]
