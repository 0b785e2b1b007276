"""Quota counters shared by every server: fixed windows, charged atomically.

A counter is named by who is counted, what, and which window (``server.upload_quotas``
names them); ``charge`` adds to several counters at once only if none passes its limit,
so two servers racing for a client's last upload cannot both win it.

``QuotaCounters`` is the port; ``SqliteQuotaCounters`` (one machine: a write
transaction) and ``DynamoQuotaCounters`` (AWS: conditional atomic updates on the table
the stack creates, whose TTL attribute forgets old windows) its adapters, under one
contract test.
"""

import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from sharer.sqlite_store import sqlite_transaction

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Counters' items in the one table (cdk/quota_table.py), beside the API keys'.
COUNTER_ITEM_PREFIX = "quota#"
# The table's TTL attribute (Unix seconds): DynamoDB deletes the item some time after.
EXPIRES_ATTRIBUTE = "expires_at"


class QuotaStoreUnavailable(RuntimeError):
    """The counters cannot be read or charged (the upload gets a 503)."""


@dataclass(frozen=True)
class Charge:
    """Add ``amount`` to ``counter`` unless that takes it past ``limit``; the counter
    may be forgotten after ``expires_at`` (Unix seconds: its window is over)."""

    counter: str
    amount: int
    limit: int
    expires_at: int


@dataclass(frozen=True)
class Tally:
    """The outcome of a charge: ``used`` holds each counter's value after it, in the
    charges' order (as they stand, untouched, when it was refused)."""

    admitted: bool
    used: tuple[int, ...]


class QuotaCounters(ABC):
    """Counters that every server charges and reads."""

    @abstractmethod
    def charge(self, charges: Sequence[Charge]) -> Tally:
        """Apply every charge, or none if any would pass its limit."""

    @abstractmethod
    def peek(self, counters: Sequence[str]) -> tuple[int, ...]:
        """The counters' values (0 for one never charged), in order."""


_SQLITE_SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS quota_counters (
    counter TEXT PRIMARY KEY,
    used INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
"""


class SqliteQuotaCounters(QuotaCounters):
    """Counters in a SQLite database shared by the servers of one machine."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def charge(self, charges: Sequence[Charge]) -> Tally:
        with sqlite_transaction(self.path, _SQLITE_SCHEMA) as db:
            now = [self._used(db, charge.counter) for charge in charges]
            if any(u + c.amount > c.limit for u, c in zip(now, charges, strict=True)):
                return Tally(admitted=False, used=tuple(now))
            db.executemany(
                "INSERT INTO quota_counters (counter, used, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (counter) DO UPDATE SET used = used + excluded.used",
                [(c.counter, c.amount, c.expires_at) for c in charges],
            )
            # Windows over are forgotten by whoever charges next.
            db.execute("DELETE FROM quota_counters WHERE expires_at < ?", (int(time.time()),))
        return Tally(
            admitted=True, used=tuple(u + c.amount for u, c in zip(now, charges, strict=True))
        )

    def peek(self, counters: Sequence[str]) -> tuple[int, ...]:
        with sqlite_transaction(self.path, _SQLITE_SCHEMA) as db:
            return tuple(self._used(db, counter) for counter in counters)

    @staticmethod
    def _used(db: sqlite3.Connection, counter: str) -> int:
        row = db.execute("SELECT used FROM quota_counters WHERE counter = ?", (counter,)).fetchone()
        return 0 if row is None else int(row[0])


class DynamoQuotaCounters(QuotaCounters):
    """Counters in the DynamoDB table the stack creates.

    Each charge is one conditional ``UpdateItem`` (``ADD``, only if the counter stays
    within its limit), atomic on DynamoDB's side. When a later charge of the same request
    is refused, the earlier ones are taken back: a refused upload costs nothing, and if
    taking back fails, the client is counted a little more, never less.
    """

    def __init__(self, client: "DynamoDBClient", table: str) -> None:
        self.client = client
        self.table = table

    def charge(self, charges: Sequence[Charge]) -> Tally:
        used: list[int] = []
        try:
            for index, charge in enumerate(charges):
                after = self._add(charge)
                if after is None:
                    self._take_back(charges[:index])
                    before = [u - c.amount for u, c in zip(used, charges, strict=False)]
                    rest = self.peek([c.counter for c in charges[index:]])
                    return Tally(admitted=False, used=(*before, *rest))
                used.append(after)
        except (BotoCoreError, ClientError) as exc:
            raise QuotaStoreUnavailable(repr(exc)) from exc
        return Tally(admitted=True, used=tuple(used))

    def peek(self, counters: Sequence[str]) -> tuple[int, ...]:
        values = []
        try:
            for counter in counters:
                item = self.client.get_item(
                    TableName=self.table,
                    Key={"pk": {"S": COUNTER_ITEM_PREFIX + counter}},
                    ConsistentRead=True,
                ).get("Item")
                values.append(0 if item is None else int(item["used"]["N"]))
        except (BotoCoreError, ClientError) as exc:
            raise QuotaStoreUnavailable(repr(exc)) from exc
        return tuple(values)

    def _add(self, charge: Charge) -> int | None:
        """The counter's value after adding the charge, or None if it would pass the limit."""
        if charge.amount > charge.limit:
            return None
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": COUNTER_ITEM_PREFIX + charge.counter}},
                UpdateExpression=f"ADD used :amount SET {EXPIRES_ATTRIBUTE} = :expires",
                ConditionExpression="attribute_not_exists(used) OR used <= :most",
                ExpressionAttributeValues={
                    ":amount": {"N": str(charge.amount)},
                    ":expires": {"N": str(charge.expires_at)},
                    ":most": {"N": str(charge.limit - charge.amount)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return int(answer["Attributes"]["used"]["N"])

    def _take_back(self, charges: Sequence[Charge]) -> None:
        for charge in charges:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": COUNTER_ITEM_PREFIX + charge.counter}},
                UpdateExpression="ADD used :amount",
                ExpressionAttributeValues={":amount": {"N": str(-charge.amount)}},
            )
