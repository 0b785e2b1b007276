"""API keys: made once, shown once, kept only as a hash; looked up on every upload.

A key is 256 random bits, so its SHA-256 is as hard to reverse as the key is to guess:
no slow password hash is needed, and a lookup is one read by the digest. Every lookup
reads the shared store (never a cache), so a revoked key fails at once on every server.

``ApiKeys`` is the port; ``SqliteApiKeys`` (embedded mode) and ``DynamoApiKeys`` (AWS,
the table the stack creates) its adapters, under one contract test.
"""

import hashlib
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sharer.sqlite_store import sqlite_transaction

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Keys say what they are, so a leaked one is recognised by secret scanners and people.
KEY_PREFIX = "mlis_"
# A name an operator types and logs show: short and plain.
NAME_PATTERN = r"[A-Za-z0-9._-]{1,64}"


class ApiKeyError(ValueError):
    """A key cannot be created or revoked as asked (the message says why)."""


class ApiKeyStoreUnavailable(RuntimeError):
    """The store of API keys cannot be reached (the upload gets a 503)."""


@dataclass(frozen=True)
class ApiKey:
    """A key's record: never the key itself, only its digest."""

    name: str
    key_sha256: str
    uploads_per_minute: int
    bytes_per_day: int
    created_at: float
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        """True once ``keys revoke`` ran on it."""
        return self.revoked_at is not None


def new_api_key() -> str:
    """A fresh key, to be shown to the operator once."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    """The SHA-256 of ``key`` (hex): what the store keeps and looks up by."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys(ABC):
    """Where the API keys' records live, shared by every server."""

    @abstractmethod
    def add(self, record: ApiKey) -> None:
        """Store ``record``; ``ApiKeyError`` if its name is taken (revoked or not)."""

    @abstractmethod
    def find(self, key_sha256: str) -> ApiKey | None:
        """The record of the key with this digest, revoked or not; None if none."""

    @abstractmethod
    def revoke(self, name: str, at: float) -> ApiKey:
        """Mark the key named ``name`` revoked at ``at``; ``ApiKeyError`` if none is."""

    @abstractmethod
    def list(self) -> list[ApiKey]:
        """Every key's record, by name."""


_SQLITE_SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    key_sha256 TEXT NOT NULL UNIQUE,
    uploads_per_minute INTEGER NOT NULL,
    bytes_per_day INTEGER NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
"""
_SELECT_KEYS = (
    "SELECT name, key_sha256, uploads_per_minute, bytes_per_day, created_at, revoked_at "
    "FROM api_keys "
)


class SqliteApiKeys(ApiKeys):
    """API keys in a SQLite database shared by the processes of one machine."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, record: ApiKey) -> None:
        with sqlite_transaction(self.path, _SQLITE_SCHEMA) as db:
            taken = db.execute(
                "SELECT 1 FROM api_keys WHERE name = ? OR key_sha256 = ?",
                (record.name, record.key_sha256),
            ).fetchone()
            if taken:
                raise ApiKeyError(f"a key named {record.name!r} exists already")
            db.execute(
                "INSERT INTO api_keys (name, key_sha256, uploads_per_minute, bytes_per_day, "
                "created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.name,
                    record.key_sha256,
                    record.uploads_per_minute,
                    record.bytes_per_day,
                    record.created_at,
                    record.revoked_at,
                ),
            )

    def find(self, key_sha256: str) -> ApiKey | None:
        with sqlite_transaction(self.path, _SQLITE_SCHEMA) as db:
            row = db.execute(
                _SELECT_KEYS + "WHERE key_sha256 = ?",
                (key_sha256,),
            ).fetchone()
        return None if row is None else ApiKey(*row)

    def revoke(self, name: str, at: float) -> ApiKey:
        with sqlite_transaction(self.path, _SQLITE_SCHEMA) as db:
            db.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE name = ?",
                (at, name),
            )
            row = db.execute(_SELECT_KEYS + "WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ApiKeyError(f"no key named {name!r}")
        return ApiKey(*row)

    def list(self) -> list[ApiKey]:
        with sqlite_transaction(self.path, _SQLITE_SCHEMA) as db:
            rows = db.execute(_SELECT_KEYS + "ORDER BY name").fetchall()
        return [ApiKey(*row) for row in rows]


# Items of the one table (cdk/quota_table.py): "pk" is the partition key of every item.
KEY_ITEM_PREFIX = "apikey#"
NAME_ITEM_PREFIX = "apikeyname#"


class DynamoApiKeys(ApiKeys):
    """API keys in the DynamoDB table the stack creates (shared with the quota counters).

    Two items per key: one by digest (the lookup of every upload, a consistent read) and
    one by name (so names are unique, and ``revoke NAME`` finds the digest); both are
    written in one transaction.
    """

    def __init__(self, client: "DynamoDBClient", table: str) -> None:
        self.client = client
        self.table = table

    def add(self, record: ApiKey) -> None:
        item = _key_item(record)
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {**item, "pk": {"S": KEY_ITEM_PREFIX + record.key_sha256}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {**item, "pk": {"S": NAME_ITEM_PREFIX + record.name}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise ApiKeyError(f"a key named {record.name!r} exists already") from exc
            raise ApiKeyStoreUnavailable(repr(exc)) from exc
        except BotoCoreError as exc:
            raise ApiKeyStoreUnavailable(repr(exc)) from exc

    def find(self, key_sha256: str) -> ApiKey | None:
        try:
            found = self.client.get_item(
                TableName=self.table,
                Key={"pk": {"S": KEY_ITEM_PREFIX + key_sha256}},
                ConsistentRead=True,
            )
        except (BotoCoreError, ClientError) as exc:
            raise ApiKeyStoreUnavailable(repr(exc)) from exc
        item = found.get("Item")
        return None if item is None else _key_record(item)

    def revoke(self, name: str, at: float) -> ApiKey:
        try:
            found = self.client.get_item(
                TableName=self.table,
                Key={"pk": {"S": NAME_ITEM_PREFIX + name}},
                ConsistentRead=True,
            )
            if "Item" not in found:
                raise ApiKeyError(f"no key named {name!r}")
            record = _key_record(found["Item"])
            if record.revoked:
                return record
            revoked = {":at": {"N": repr(at)}}
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": {"S": pk}},
                            "UpdateExpression": "SET revoked_at = :at",
                            "ExpressionAttributeValues": revoked,
                        }
                    }
                    for pk in (KEY_ITEM_PREFIX + record.key_sha256, NAME_ITEM_PREFIX + name)
                ]
            )
        except (BotoCoreError, ClientError) as exc:
            raise ApiKeyStoreUnavailable(repr(exc)) from exc
        return ApiKey(
            record.name,
            record.key_sha256,
            record.uploads_per_minute,
            record.bytes_per_day,
            record.created_at,
            at,
        )

    def list(self) -> list[ApiKey]:
        records: list[ApiKey] = []
        try:
            pages = self.client.get_paginator("scan").paginate(
                TableName=self.table,
                FilterExpression="begins_with(pk, :prefix)",
                ExpressionAttributeValues={":prefix": {"S": NAME_ITEM_PREFIX}},
                ConsistentRead=True,
            )
            for page in pages:
                records.extend(_key_record(item) for item in page.get("Items", []))
        except (BotoCoreError, ClientError) as exc:
            raise ApiKeyStoreUnavailable(repr(exc)) from exc
        return sorted(records, key=lambda record: record.name)


def _key_item(record: ApiKey) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": {"S": record.name},
        "key_sha256": {"S": record.key_sha256},
        "uploads_per_minute": {"N": str(record.uploads_per_minute)},
        "bytes_per_day": {"N": str(record.bytes_per_day)},
        "created_at": {"N": repr(record.created_at)},
    }
    if record.revoked_at is not None:
        item["revoked_at"] = {"N": repr(record.revoked_at)}
    return item


def _key_record(item: dict[str, Any]) -> ApiKey:
    revoked = item.get("revoked_at")
    return ApiKey(
        name=item["name"]["S"],
        key_sha256=item["key_sha256"]["S"],
        uploads_per_minute=int(item["uploads_per_minute"]["N"]),
        bytes_per_day=int(item["bytes_per_day"]["N"]),
        created_at=float(item["created_at"]["N"]),
        revoked_at=None if revoked is None else float(revoked["N"]),
    )


def created_key(keys: ApiKeys, name: str, *, uploads_per_minute: int, bytes_per_day: int) -> str:
    """Make a key named ``name`` with these quotas, store its record, and return the key
    (the one time it exists outside the client that will hold it)."""
    key = new_api_key()
    keys.add(
        ApiKey(
            name=name,
            key_sha256=key_digest(key),
            uploads_per_minute=uploads_per_minute,
            bytes_per_day=bytes_per_day,
            created_at=time.time(),
        )
    )
    return key
