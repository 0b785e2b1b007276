"""Idempotency records: what the service remembers of an upload sent with an
``Idempotency-Key`` (the IETF httpapi draft "The Idempotency-Key HTTP Header Field").

One small object per key, at ``idempotency/<sha256 of the key>.json``: the key itself is
never stored (the object's name says nothing a lister could replay) and any key the
header allows maps to a valid storage key. The record holds the fingerprint of the image
and description sent with the key, the image id the upload was given, when it started,
and the 202 it answers (planned before the upload is stored, so an upload whose server
died can still be answered). It never holds the delete token: the service keeps that
only as a digest.
"""

import hashlib
import json
from dataclasses import dataclass, replace

from sharer.ids import is_image_id
from sharer.key_scheme import idempotency_record_key


@dataclass(frozen=True)
class UploadAnswer:
    """The 202 an upload gave (or will give): its body (the four URLs) and Location."""

    body: dict[str, str]
    location: str


@dataclass(frozen=True)
class IdempotencyRecord:
    """One key's upload: ``done`` once its 202 was decided, else still in progress."""

    fingerprint: str
    image_id: str
    started: float
    answer: UploadAnswer
    done: bool = False

    def finished(self) -> "IdempotencyRecord":
        """The same record, marked done."""
        return replace(self, done=True)


def record_key(idempotency_key: str) -> str:
    """Where the record of ``idempotency_key`` is stored."""
    return idempotency_record_key(hashlib.sha256(idempotency_key.encode()).hexdigest())


def fingerprint(image: bytes, description: str | None = None) -> str:
    """What the same key must come with again: the SHA-256 (hex) of the image as sent,
    and of its description (normalized) when it has one.

    Without a description it is the image's own digest, as records written before
    descriptions existed hold; with one, the digest of the image's digest and the
    description, so that no image alone can match it.
    """
    image_digest = hashlib.sha256(image).hexdigest()
    if description is None:
        return image_digest
    return hashlib.sha256(f"{image_digest}\ndescription\n{description}".encode()).hexdigest()


def encode_record(record: IdempotencyRecord) -> bytes:
    """Serialize for storage."""
    return json.dumps(
        {
            "state": "done" if record.done else "in-progress",
            "fingerprint": record.fingerprint,
            "image_id": record.image_id,
            "started": record.started,
            "body": record.answer.body,
            "location": record.answer.location,
        }
    ).encode()


def decode_record(data: bytes) -> IdempotencyRecord:
    """Parse a stored record; ``ValueError`` names what is wrong with it."""
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError("an idempotency record is a JSON object")
    state, body = doc.get("state"), doc.get("body")
    if state not in ("done", "in-progress"):
        raise ValueError(f"bad state {state!r} in an idempotency record")
    if not isinstance(body, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in body.items()
    ):
        raise ValueError("bad body in an idempotency record")
    image_id, started = doc.get("image_id"), doc.get("started")
    if not isinstance(image_id, str) or not is_image_id(image_id):
        raise ValueError("bad image id in an idempotency record")
    if not isinstance(started, int | float) or isinstance(started, bool):
        raise ValueError("bad start time in an idempotency record")
    fingerprint_hex, location = doc.get("fingerprint"), doc.get("location")
    if not isinstance(fingerprint_hex, str) or not isinstance(location, str):
        raise ValueError("bad fingerprint or location in an idempotency record")
    return IdempotencyRecord(
        fingerprint=fingerprint_hex,
        image_id=image_id,
        started=float(started),
        answer=UploadAnswer(body, location),
        done=state == "done",
    )
