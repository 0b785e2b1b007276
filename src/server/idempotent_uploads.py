"""Uploads sent with an ``Idempotency-Key``: a retry gets the first answer, never a
second image.

Follows the IETF httpapi draft "The Idempotency-Key HTTP Header Field"
(draft-ietf-httpapi-idempotency-key-header-06): the key is a Structured Field String;
the same key with the same image and description gives back the first 202 (body and
Location) and stores nothing new; the same key with another image or another
description (a different request body) is 422; a key whose upload is still in progress
is 409. The record (``sharer.idempotency_records``) lives in the storage
backend, so every server sees it, and a conditional create (``Storage.put_new``) decides
between servers that get the same key at once: the loser answers 409.

A replay carries no ``Delete-Token``: the token was handed out once, with the first 202,
and the service keeps only its digest, so it cannot be sent again; a new one is never
minted for an image that already has one.

An upload whose server died leaves its record in progress. A 409 says to come back in a
second while the first request may still answer (younger than the request timeout), then
when the record can be taken over. Once it is older than ``idempotency_takeover_seconds``
(more than any request can still be running), a retry looks at what was stored: if the
image's status record exists, the upload was accepted (its pending marker gets its job
queued) and the planned 202 is answered; if not, the retry takes the upload over under
the image id the record planned, so even two retries racing for it make one image.
"""

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import Conflict, UnprocessableEntity

from server.request_log import request_id
from sharer.idempotency_records import (
    IdempotencyRecord,
    UploadAnswer,
    decode_record,
    encode_record,
    record_key,
)
from sharer.key_scheme import status_key
from sharer.storage import ObjectExists, ObjectNotFound, Storage, StorageUnavailable

log = logging.getLogger("sharer.server")

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
# The draft sets no bound; a UUID is 36 characters, and a bound keeps records small.
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# An sf-string (RFC 8941, 3.3.3): printable ASCII in double quotes, with \" and \\ the
# only escapes. No parameters: the draft defines none for this field.
_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_ESCAPE = re.compile(r'\\(["\\])')
# When a client that got 409 should ask again while the first request may still answer.
IN_PROGRESS_RETRY_AFTER_SECONDS = 1
_RECORD_TYPE = "application/json"


def parse_idempotency_key(field: str) -> str:
    """The key carried by an ``Idempotency-Key`` field value; ``ValueError`` (with a
    message for the client) unless it is a quoted string of 1 to 255 characters."""
    match = _SF_STRING.fullmatch(field.strip(" \t"))
    if match is None:
        raise ValueError(
            f"{IDEMPOTENCY_KEY_HEADER} must be a quoted string of printable ASCII "
            '(a Structured Field String), such as "8e03978e-40d5-43e8-bc93-6894a57f9324"'
        )
    key = _ESCAPE.sub(r"\1", match.group(1))
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValueError(
            f"{IDEMPOTENCY_KEY_HEADER} must hold 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
        )
    return key


class UploadInProgress(Conflict):
    """409: an upload with this key is still being processed; ask again after
    ``retry_after`` seconds."""

    def __init__(self, retry_after: int = IN_PROGRESS_RETRY_AFTER_SECONDS) -> None:
        super().__init__(
            f"an upload with this {IDEMPOTENCY_KEY_HEADER} is still in progress; "
            "retry it shortly with the same key"
        )
        self.retry_after = retry_after

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        """Werkzeug's headers, with the Retry-After the clients honour."""
        headers = super().get_headers(*args, **kwargs)
        return [*headers, ("Retry-After", str(self.retry_after))]


def _other_image() -> UnprocessableEntity:
    return UnprocessableEntity(
        f"this {IDEMPOTENCY_KEY_HEADER} was used with another image or description; "
        "send a new key for a new upload"
    )


@dataclass(frozen=True)
class Proceed:
    """No finished upload has this key: upload, under ``image_id`` if one is given (a
    takeover keeps the id its first attempt planned)."""

    image_id: str | None = None


class IdempotentUploads:
    """The records of one store, as the upload route uses them for one request."""

    def __init__(
        self,
        storage: Storage,
        *,
        takeover_seconds: int,
        request_timeout: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._takeover_seconds = takeover_seconds
        self._request_timeout = request_timeout
        self._clock = clock

    def begin(self, key: str, fingerprint: str) -> UploadAnswer | Proceed:
        """The first answer to replay, or ``Proceed``; raises 409 or 422 (as Werkzeug
        exceptions) when the key is busy or was used with other bytes."""
        record = self._load(key)
        if record is None:
            return Proceed()
        return self._decide(key, record, fingerprint)

    def claim(
        self, key: str, fingerprint: str, step: Proceed, image_id: str, answer: UploadAnswer
    ) -> UploadAnswer | IdempotencyRecord:
        """Record the upload as in progress: its record, or the first answer to replay
        if another request got there first (or 409/422 as ``begin``)."""
        record = IdempotencyRecord(fingerprint, image_id, self._clock(), answer)
        body = encode_record(record)
        if step.image_id is not None:  # a takeover rewrites the stale record
            self._storage.put(record_key(key), body, _RECORD_TYPE, immutable=False)
            return record
        try:
            self._storage.put_new(record_key(key), body, _RECORD_TYPE)
        except ObjectExists:
            winner = self._load(key)
            if winner is None:  # the winner failed and removed it just now
                raise UploadInProgress() from None
            decided = self._decide(key, winner, fingerprint)
            if isinstance(decided, Proceed):  # a stale record that appeared only now
                raise UploadInProgress() from None
            return decided
        return record

    def finish(self, key: str, record: IdempotencyRecord) -> None:
        """Mark the upload done. The upload is already accepted, so a failure is logged,
        not answered: a retry then gets 409 until the takeover finds the image stored."""
        try:
            self._storage.put(
                record_key(key), encode_record(record.finished()), _RECORD_TYPE, immutable=False
            )
        except StorageUnavailable:
            log.exception(
                "idempotency record left in progress",
                extra={"request_id": request_id(), "image_id": record.image_id},
            )

    def release(self, key: str, image_id: str) -> None:
        """Remove the record of an upload that failed (503), so a retry can proceed; if
        that fails too, the record is taken over once stale."""
        try:
            self._storage.delete(record_key(key))
        except StorageUnavailable:
            log.exception(
                "idempotency record of a failed upload left behind",
                extra={"request_id": request_id(), "image_id": image_id},
            )

    def _decide(
        self, key: str, record: IdempotencyRecord, fingerprint: str
    ) -> UploadAnswer | Proceed:
        if record.fingerprint != fingerprint:
            raise _other_image()
        if record.done:
            return record.answer
        age = self._clock() - record.started
        if age < self._request_timeout:  # its own request may still answer soon
            raise UploadInProgress()
        if age < self._takeover_seconds:  # it cannot answer any more: come back to take over
            raise UploadInProgress(math.ceil(self._takeover_seconds - age))
        # Stale: the server that started it is gone. Its status record says whether the
        # upload got as far as storing (the pending marker then sees the job queued).
        if self._storage.exists(status_key(record.image_id)):
            self.finish(key, record)
            return record.answer
        return Proceed(record.image_id)

    def _load(self, key: str) -> IdempotencyRecord | None:
        try:
            stored = self._storage.get(record_key(key))
        except ObjectNotFound:
            return None
        try:
            return decode_record(stored.body)
        except ValueError as exc:
            raise StorageUnavailable(f"unreadable idempotency record: {exc}") from exc
