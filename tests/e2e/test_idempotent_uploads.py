"""``Idempotency-Key`` on ``POST /`` over real HTTP, on both backend pairs: a retry gets
the first answer and stores nothing new, another image under the key is 422, a key in
progress is 409, a cut-short upload is taken over, records outlive their retention only
until the sweep, and a bad key is 400."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from reconciler.idempotency_sweep import sweep_idempotency_records
from sharer.idempotency_records import (
    IdempotencyRecord,
    UploadAnswer,
    decode_record,
    encode_record,
    fingerprint,
    record_key,
)
from sharer.ids import new_image_id
from sharer.key_scheme import IDEMPOTENCY_RETENTION_SECONDS, status_key
from sharer.settings import ServerSettings
from sharer.storage import Storage
from support import images
from support.client import BODY_KEYS, upload
from support.services import Service, service_storage


@pytest.fixture
def storage(service: Service) -> Storage:
    """The store the service writes to."""
    return service_storage(service)


def _key() -> str:
    return str(uuid.uuid4())


def _post(service: Service, data: bytes, key: str | None) -> requests.Response:
    headers = {} if key is None else {"Idempotency-Key": f'"{key}"'}
    return upload(service.base_url, data, **headers)


def _images(storage: Storage) -> int:
    """How many images the store holds (each has one status record)."""
    return len(storage.list_keys("status/", limit=100_000))


def _record(storage: Storage, key: str) -> IdempotencyRecord:
    return decode_record(storage.get(record_key(key)).body)


def test_the_same_key_and_image_gives_back_the_first_answer_and_stores_nothing(
    service: Service, storage: Storage
) -> None:
    key, photo = _key(), images.jpeg((200, 150), seed=11)
    before = _images(storage)

    first = _post(service, photo, key)
    again = _post(service, photo, key)

    assert first.status_code == again.status_code == 202
    assert tuple(first.json()) == BODY_KEYS  # the contract's body, nothing added
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Content-Type"] == "application/json"
    assert again.headers["Cache-Control"] == "no-store"
    # The token was handed out once; only its digest is kept, so a replay has none.
    assert len(first.headers["Delete-Token"]) == 43
    assert "Delete-Token" not in again.headers
    assert _images(storage) == before + 1
    assert _record(storage, key).done


def test_the_token_of_the_first_answer_still_deletes_after_a_replay(
    service: Service, storage: Storage
) -> None:
    key, photo = _key(), images.png((64, 48), seed=3)
    first = _post(service, photo, key)
    assert _post(service, photo, key).status_code == 202
    deleted = requests.delete(
        f"{service.base_url}{first.headers['Location']}",
        headers={"Authorization": f"Bearer {first.headers['Delete-Token']}"},
        timeout=30,
    )
    assert deleted.status_code == 204


def test_the_same_key_with_another_image_is_422(service: Service, storage: Storage) -> None:
    key = _key()
    assert _post(service, images.jpeg((120, 90), seed=1), key).status_code == 202
    before = _images(storage)

    other = _post(service, images.jpeg((120, 90), seed=2), key)

    assert other.status_code == 422
    assert other.headers["Content-Type"] == "application/json"
    assert "another image" in other.json()["error"]
    assert _images(storage) == before


def test_a_key_still_in_progress_is_409_with_retry_after(
    service: Service, storage: Storage
) -> None:
    key, photo = _key(), images.jpeg((120, 90), seed=4)
    # What a server writes before it stores the upload: another request is on it now.
    in_progress = IdempotencyRecord(
        fingerprint(photo), new_image_id(), time.time(), UploadAnswer({}, "/images/x")
    )
    storage.put_new(record_key(key), encode_record(in_progress), "application/json")
    before = _images(storage)

    busy = _post(service, photo, key)

    assert busy.status_code == 409
    assert busy.headers["Content-Type"] == "application/json"
    assert busy.headers["Retry-After"] == "1"
    assert "still in progress" in busy.json()["error"]
    assert _images(storage) == before
    # Another image under a busy key is still told apart: the key was used for other bytes.
    assert _post(service, images.jpeg((120, 90), seed=5), key).status_code == 422


def test_a_key_whose_request_cannot_answer_any_more_says_when_to_take_over(
    service: Service, storage: Storage
) -> None:
    key, photo = _key(), images.jpeg((120, 90), seed=12)
    settings = ServerSettings.from_env(service.env)
    age = settings.request_timeout + 5  # its request is past its deadline
    cut_short = IdempotencyRecord(
        fingerprint(photo), new_image_id(), time.time() - age, UploadAnswer({}, "/images/x")
    )
    storage.put_new(record_key(key), encode_record(cut_short), "application/json")

    busy = _post(service, photo, key)

    assert busy.status_code == 409
    takeover_in = settings.idempotency_takeover_seconds - age
    assert takeover_in - 5 <= int(busy.headers["Retry-After"]) <= takeover_in


def test_racing_requests_with_one_key_make_one_image(service: Service, storage: Storage) -> None:
    key, photo = _key(), images.jpeg((320, 240), seed=6)
    before = _images(storage)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: _post(service, photo, key), range(6)))

    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {202, 409}, statuses
    accepted = [answer for answer in answers if answer.status_code == 202]
    assert accepted
    assert {answer.headers["Location"] for answer in accepted} == {
        _record(storage, key).answer.location
    }
    # The conditional create let one request through; the others replayed it or got 409.
    assert sum("Delete-Token" in answer.headers for answer in answers) == 1
    assert _images(storage) == before + 1


def test_a_stale_upload_that_stored_nothing_is_taken_over_under_its_image_id(
    service: Service, storage: Storage
) -> None:
    key, photo = _key(), images.jpeg((120, 90), seed=7)
    planned_id = new_image_id()
    # A server died after writing the record and before storing anything.
    cut_short = IdempotencyRecord(
        fingerprint(photo), planned_id, time.time() - 3600, UploadAnswer({}, "/images/x")
    )
    storage.put_new(record_key(key), encode_record(cut_short), "application/json")

    taken_over = _post(service, photo, key)

    assert taken_over.status_code == 202
    assert taken_over.headers["Location"] == f"/images/{planned_id}"
    assert "Delete-Token" in taken_over.headers
    assert storage.exists(status_key(planned_id))
    assert _record(storage, key).done


def test_a_stale_upload_that_was_stored_is_answered_not_redone(
    service: Service, storage: Storage
) -> None:
    key, photo = _key(), images.jpeg((120, 90), seed=8)
    first = _post(service, photo, key)
    # As if its server died after storing the upload, before marking the record done.
    stored = _record(storage, key)
    storage.put(
        record_key(key),
        encode_record(IdempotencyRecord(stored.fingerprint, stored.image_id, 0.0, stored.answer)),
        "application/json",
        immutable=False,
    )
    before = _images(storage)

    again = _post(service, photo, key)

    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert "Delete-Token" not in again.headers
    assert _images(storage) == before
    assert _record(storage, key).done


def test_records_are_kept_for_the_retention_then_swept(service: Service, storage: Storage) -> None:
    key, photo = _key(), images.jpeg((120, 90), seed=9)
    first = _post(service, photo, key)
    written = time.time()

    kept = sweep_idempotency_records(storage, now=written + IDEMPOTENCY_RETENTION_SECONDS - 60)
    assert record_key(key) not in kept
    assert _post(service, photo, key).headers["Location"] == first.headers["Location"]

    swept = sweep_idempotency_records(storage, now=time.time() + IDEMPOTENCY_RETENTION_SECONDS + 60)
    assert record_key(key) in swept
    # An expired key is a new key: the same bytes make a new image.
    fresh = _post(service, photo, key)
    assert fresh.status_code == 202
    assert fresh.headers["Location"] != first.headers["Location"]


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "quoted string"),  # a token, not a string
        ('"unterminated', "quoted string"),
        ('"tab\tinside"', "quoted string"),
        ('"bad \\n escape"', "quoted string"),
        ('"key";param=1', "quoted string"),
        ('""', "1 to 255"),
        ('"' + "k" * 256 + '"', "1 to 255"),
    ],
)
def test_a_malformed_key_is_400_and_stores_nothing(
    service: Service, storage: Storage, field: str, reason: str
) -> None:
    before = _images(storage)
    refused = upload(service.base_url, images.jpeg((64, 48)), **{"Idempotency-Key": field})
    assert refused.status_code == 400
    assert refused.headers["Content-Type"] == "application/json"
    assert "Idempotency-Key" in refused.json()["error"]
    assert reason in refused.json()["error"]
    assert _images(storage) == before


def test_no_key_is_todays_upload_and_leaves_no_record(service: Service, storage: Storage) -> None:
    photo = images.jpeg((120, 90), seed=10)
    records = len(storage.list_keys("idempotency/", limit=100_000))
    first, second = _post(service, photo, None), _post(service, photo, None)
    assert first.status_code == second.status_code == 202
    assert first.headers["Location"] != second.headers["Location"]
    assert "Delete-Token" in second.headers
    assert len(storage.list_keys("idempotency/", limit=100_000)) == records
