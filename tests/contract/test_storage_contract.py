"""What every Storage adapter must do; run against LocalStorage, S3Storage (moto) and
the unit tests' FakeStorage."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from contract.cases import StorageCase, assert_refuses_key
from sharer.storage.port import (
    IMMUTABLE_CACHE_CONTROL,
    NewObject,
    ObjectExists,
    ObjectNotFound,
    StorageUnavailable,
)

KEY = "images/AAAAAAAAAAAAAAAAAAAAAA/small.jpg"
STATUS_KEY = "status/AAAAAAAAAAAAAAAAAAAAAA.json"
RECORD_KEY = "idempotency/0123456789abcdef.json"


BODIES = {
    "images/a/empty.jpg": b"",
    "images/a/newlines.jpg": b"\n\nnewlines first\n",
    "images/a/binary.jpg": bytes(range(256)) * 64,
}


def test_put_then_get_returns_body_type_etag_and_cache_control(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    for key, body in BODIES.items():
        storage.put(key, body, "image/jpeg")

    for key, body in BODIES.items():
        got = storage.get(key)
        assert got.body == body
        assert got.content_type == "image/jpeg"
        # A strong entity tag, ready for an HTTP ETag header.
        assert len(got.etag) > 2
        assert got.etag.startswith('"')
        assert got.etag.endswith('"')
        assert got.cache_control == IMMUTABLE_CACHE_CONTROL


@pytest.mark.parametrize("method", ["put_all", "put_all_regenerable"])
def test_put_all_stores_each_object_as_put_would(storage_case: StorageCase, method: str) -> None:
    storage = storage_case.storage
    objects = [NewObject(key, body, "image/jpeg") for key, body in BODIES.items()]
    objects.append(NewObject(STATUS_KEY, b'{"state":"pending"}', "application/json", False))
    getattr(storage, method)(objects)

    for item in objects:
        got = storage.get(item.key)
        assert (got.body, got.content_type) == (item.body, item.content_type)
        assert got.cache_control == (IMMUTABLE_CACHE_CONTROL if item.immutable else None)
        # The same body stored by put has the same entity tag.
        storage.put(KEY, item.body, item.content_type, immutable=item.immutable)
        assert got.etag == storage.get(KEY).etag
    storage.put(KEY, b"alone", "image/jpeg")
    assert storage.get(KEY).etag not in {storage.get(item.key).etag for item in objects}


def test_mutable_object_has_no_cache_control_and_can_be_replaced(
    storage_case: StorageCase,
) -> None:
    storage = storage_case.storage
    storage.put(STATUS_KEY, b'{"state":"pending"}', "application/json", immutable=False)
    pending = storage.get(STATUS_KEY)

    storage.put(STATUS_KEY, b'{"state":"ready"}', "application/json", immutable=False)
    ready = storage.get(STATUS_KEY)

    assert pending.cache_control is None
    assert ready.body == b'{"state":"ready"}'
    assert ready.content_type == "application/json"
    assert ready.etag != pending.etag


def test_rewriting_same_bytes_is_idempotent(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    storage.put(KEY, b"thumbnail bytes", "image/jpeg")
    first = storage.get(KEY)

    storage.put(KEY, b"thumbnail bytes", "image/jpeg")

    assert storage.get(KEY) == first


def test_etag_follows_the_body_not_the_key(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    storage.put("images/a/small.jpg", b"same", "image/jpeg")
    storage.put("images/b/small.jpg", b"same", "image/jpeg")
    storage.put("images/c/small.jpg", b"other", "image/jpeg")

    same_a = storage.get("images/a/small.jpg").etag
    same_b = storage.get("images/b/small.jpg").etag
    other = storage.get("images/c/small.jpg").etag

    assert same_a == same_b
    assert other != same_a


def test_missing_key_raises_object_not_found(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    storage.put(KEY, b"x", "image/jpeg")
    storage.put(f"{KEY}.keep", b"x", "image/jpeg")
    storage.delete(KEY)

    for key in (KEY, "images/nothing/here.jpg", f"{KEY}.keep/below-an-object"):
        with pytest.raises(ObjectNotFound):
            storage.get(key)


def test_delete_removes_and_deleting_a_missing_key_is_fine(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    storage.put(KEY, b"x", "image/jpeg")
    storage.put(STATUS_KEY, b"{}", "application/json", immutable=False)

    storage.delete(KEY)
    storage.delete(KEY)
    storage.delete("images/never/written.jpg")

    with pytest.raises(ObjectNotFound):
        storage.get(KEY)
    assert storage.get(STATUS_KEY).body == b"{}"


def test_check_passes_on_a_usable_store(storage_case: StorageCase) -> None:
    storage_case.storage.check()


def test_check_raises_storage_unavailable_when_store_is_unusable(
    storage_case: StorageCase,
) -> None:
    broken = storage_case.broken()

    with pytest.raises(StorageUnavailable) as caught:
        broken.check()
    assert caught.value.__cause__ is not None


def test_put_to_a_broken_store_raises_storage_unavailable(storage_case: StorageCase) -> None:
    with pytest.raises(StorageUnavailable):
        storage_case.broken().put(KEY, b"x", "image/jpeg")


def test_put_new_creates_once_and_never_replaces(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    storage.put_new(RECORD_KEY, b'{"first":true}', "application/json")

    with pytest.raises(ObjectExists):
        storage.put_new(RECORD_KEY, b'{"second":true}', "application/json")

    got = storage.get(RECORD_KEY)
    assert (got.body, got.content_type, got.cache_control) == (
        b'{"first":true}',
        "application/json",
        None,
    )
    # Once the object is gone, the key can be created again.
    storage.delete(RECORD_KEY)
    storage.put_new(RECORD_KEY, b'{"third":true}', "application/json")
    assert storage.get(RECORD_KEY).body == b'{"third":true}'


def test_put_new_racing_writers_exactly_one_wins(storage_case: StorageCase) -> None:
    storage = storage_case.storage
    start = threading.Barrier(6)

    def create(writer: int) -> bool:
        start.wait(timeout=10)
        try:
            storage.put_new(RECORD_KEY, f"writer {writer}".encode(), "application/json")
        except ObjectExists:
            return False
        return True

    with ThreadPoolExecutor(max_workers=6) as pool:
        won = [writer for writer, ok in enumerate(pool.map(create, range(6))) if ok]

    assert len(won) == 1
    assert storage.get(RECORD_KEY).body == f"writer {won[0]}".encode()


def test_put_new_to_a_broken_store_raises_storage_unavailable(storage_case: StorageCase) -> None:
    with pytest.raises(StorageUnavailable):
        storage_case.broken().put_new(RECORD_KEY, b"{}", "application/json")


def test_readers_never_see_a_partial_or_mismatched_object(storage_case: StorageCase) -> None:
    if storage_case.concurrency_skip:
        pytest.skip(storage_case.concurrency_skip)
    # Two versions differing in body, length and content type: any torn write or body
    # paired with the other write's metadata shows up as a combination not listed here.
    storage = storage_case.storage
    versions = [(b"a" * 300_000, "image/jpeg"), (b"b" * 200_000, "image/webp")]
    storage.put(KEY, *versions[0])
    etags = {}
    for body, content_type in versions:
        storage.put(KEY, body, content_type)
        etags[body] = storage.get(KEY).etag
    allowed = {(body, content_type, etags[body]) for body, content_type in versions}
    writing = threading.Event()
    writing.set()

    def write(worker: int) -> None:
        for n in range(15):
            storage.put(KEY, *versions[(worker + n) % 2])

    def read() -> set[tuple[bytes, str, str]]:
        seen = set()
        for _ in range(400):
            got = storage.get(KEY)
            seen.add((got.body, got.content_type, got.etag))
            if not writing.is_set():
                break
        return seen

    with ThreadPoolExecutor(max_workers=6) as pool:
        readers = [pool.submit(read) for _ in range(3)]
        writers = [pool.submit(write, worker) for worker in range(3)]
        for writer in writers:
            writer.result(timeout=30)
        writing.clear()
        seen = set().union(*(reader.result(timeout=30) for reader in readers))

    assert seen
    assert seen <= allowed


@pytest.mark.parametrize("key", ["../outside.jpg", "images/a b.jpg", "images//a.jpg", ""])
def test_every_store_refuses_the_same_bad_keys(storage_case: StorageCase, key: str) -> None:
    assert_refuses_key(storage_case.storage, key)
